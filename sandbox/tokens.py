"""The sandbox's signing key and the tokens it mints, shaped like Clockify's (docs/clockify.md#tokens)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# User tokens live 30 minutes (docs/clockify.md#tokens); tests pass a shorter TTL to exercise expiry.
USER_TOKEN_TTL = 30 * 60
# Lifecycle signatures only need to outlive the call they sign.
LIFECYCLE_TOKEN_TTL = 5 * 60

# The roles the control API and the shell speak of → the workspaceRole claim Clockify puts in user tokens.
ROLE_CLAIMS = {
    "OWNER": "OWNER",
    "ADMIN": "WORKSPACE_ADMIN",
    "TEAM_MANAGER": "TEAM_MANAGER",
    "MEMBER": "USER",
}


class Signer:
    """Holds the development RSA key pair; mints and decodes RS256 tokens."""

    def __init__(self, private_key: rsa.RSAPrivateKey, addon_key: str = "closeout") -> None:
        self._private_key = private_key
        self.addon_key = addon_key
        self.public_pem = (
            private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    @classmethod
    def from_pem(cls, pem: str, addon_key: str = "closeout") -> Signer:
        text = pem if pem.strip().startswith("-----BEGIN") else Path(pem).read_text()
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the sandbox signs with an RSA key")
        return cls(key, addon_key)

    @classmethod
    def load_or_create(cls, directory: Path, addon_key: str = "closeout") -> Signer:
        """The development key pair in `directory`, generated at first run."""
        directory.mkdir(parents=True, exist_ok=True)
        private_path = directory / "sandbox-private.pem"
        if private_path.exists():
            signer = cls.from_pem(private_path.read_text(), addon_key)
        else:
            signer = cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), addon_key)
            private_path.write_bytes(
                signer._private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            private_path.chmod(0o600)
        (directory / "sandbox-public.pem").write_text(signer.public_pem)
        return signer

    def mint(self, claims: dict[str, Any], ttl_seconds: int | None = None) -> str:
        now = int(time.time())
        body = {"iss": "clockify", "sub": self.addon_key, "type": "addon", "iat": now, **claims}
        if ttl_seconds is not None:
            body["exp"] = now + ttl_seconds
        return jwt.encode(body, self._private_key, algorithm="RS256")

    def decode(self, token: str) -> dict[str, Any]:
        """Claims of a token this sandbox minted; raises jwt.InvalidTokenError otherwise."""
        return jwt.decode(
            token, self.public_pem, algorithms=["RS256"], issuer="clockify", options={"verify_aud": False}
        )

    # Each kind below carries the claims of docs/clockify.md#tokens; `urls` is the sandbox's backend/reports/… set.

    def installation_token(self, workspace_id: str, addon_id: str, owner_id: str, urls: dict[str, str]) -> str:
        """Never expires; acts as the workspace owner; refused by the API once the installation is gone."""
        return self.mint({"workspaceId": workspace_id, "addonId": addon_id, "user": owner_id, **urls})

    def user_token(
        self,
        workspace_id: str,
        addon_id: str,
        user_id: str,
        role: str,
        urls: dict[str, str],
        *,
        theme: str = "DEFAULT",
        language: str = "EN",
        ttl_seconds: int = USER_TOKEN_TTL,
    ) -> str:
        """What an iframe gets as auth_token: the viewing user, their role, theme and language."""
        claims = {
            "workspaceId": workspace_id,
            "addonId": addon_id,
            "user": user_id,
            "workspaceRole": ROLE_CLAIMS.get(role.upper(), role.upper()),
            "theme": "DARK" if theme.upper() == "DARK" else "DEFAULT",
            "language": language,
            "backendUrl": urls["backendUrl"],
            "reportsUrl": urls["reportsUrl"],
            # Two tokens minted in the same second must still differ, so a refresh is observable.
            "jti": uuid.uuid4().hex,
        }
        return self.mint(claims, ttl_seconds)

    def lifecycle_token(self, workspace_id: str, addon_id: str) -> str:
        """The X-Addon-Lifecycle-Token signing one lifecycle call (each call's differs, even within a second)."""
        claims = {"workspaceId": workspace_id, "addonId": addon_id, "jti": uuid.uuid4().hex}
        return self.mint(claims, LIFECYCLE_TOKEN_TTL)

    def webhook_token(self, workspace_id: str, addon_id: str, webhook_id: str) -> str:
        """Fixed per webhook and never expiring; sent as Clockify-Signature on every delivery of it."""
        return self.mint({"workspaceId": workspace_id, "addonId": addon_id, "webhookId": webhook_id})
