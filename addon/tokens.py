"""Verification of every token Clockify sends: signature, issuer, subject, expiry and kind; no request needed."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .exceptions import AuthError
from .extensions import once_per_app


class TokenKind(enum.StrEnum):
    LIFECYCLE = "lifecycle"
    WEBHOOK = "webhook"
    USER = "user"


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    TEAM_MANAGER = "team_manager"
    PROJECT_MANAGER = "project_manager"
    MEMBER = "member"


_ROLE_CLAIMS = {
    "OWNER": Role.OWNER,
    "ADMIN": Role.ADMIN,
    "WORKSPACE_ADMIN": Role.ADMIN,
    "TEAM_MANAGER": Role.TEAM_MANAGER,
    "PROJECT_MANAGER": Role.PROJECT_MANAGER,
}


@dataclass(frozen=True)
class TokenContext:
    """What a verified token says, bound to the request that carried it."""

    kind: TokenKind
    claims: dict[str, Any] = field(repr=False)
    token: str = field(repr=False)
    workspace_id: str | None
    addon_id: str | None

    @property
    def user_id(self) -> str | None:
        user = self.claims.get("user")
        if isinstance(user, dict):  # tolerate an object claim as well as the documented id string
            return cast("str | None", user.get("id"))
        return cast("str | None", user)

    @property
    def role(self) -> Role:
        return role_from_claim(self.claims.get("workspaceRole"))

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMIN)

    @property
    def backend_url(self) -> str | None:
        return self.claims.get("backendUrl")

    @property
    def reports_url(self) -> str | None:
        return self.claims.get("reportsUrl")

    @property
    def theme(self) -> str:
        return "dark" if str(self.claims.get("theme", "")).upper() == "DARK" else "light"

    @property
    def language(self) -> str:
        return str(self.claims.get("language") or "EN")


def role_from_claim(value: Any) -> Role:
    """Map Clockify's workspaceRole claim onto Closeout's roles; anything unknown is a member."""
    return _ROLE_CLAIMS.get(str(value or "").upper(), Role.MEMBER)


def load_public_key(value: str) -> Any:
    text = value.strip()
    if not text.startswith("-----BEGIN"):
        text = Path(text).read_text()
    return load_pem_public_key(text.encode())


def verify_token(token: str, *, key: Any, addon_key: str, leeway: int = 60) -> dict[str, Any]:
    """Check signature (RS256 only), issuer, type, subject and expiry; return the claims."""
    if not token:
        raise AuthError("missing token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise AuthError("malformed token") from exc
    # Pinning the algorithm refuses alg=none and HS256-signed-with-the-public-key forgeries.
    if header.get("alg") != "RS256":
        raise AuthError("token algorithm not accepted")
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            issuer="clockify",
            leeway=min(leeway, 60),
            options={"require": ["iss", "sub"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError("token not valid") from exc
    if claims.get("type") != "addon":
        raise AuthError("token type not accepted")
    if claims.get("sub") != addon_key:
        raise AuthError("token issued for another add-on")
    return claims


# Claims Closeout reads, and how long each may be: anything else in a signed token (a list, a number,
# 100,000 characters) is refused like a bad signature rather than failing later (L-5).
_TEXT_CLAIMS = {
    "workspaceId": 64,
    "addonId": 64,
    "webhookId": 64,
    "workspaceRole": 64,
    "language": 16,
    "theme": 16,
    "backendUrl": 500,
    "reportsUrl": 500,
}
# Claims only user and installation tokens carry (the identity of a person), and only webhook tokens.
USER_CLAIMS = ("user", "workspaceRole", "language", "theme")
WEBHOOK_CLAIMS = ("webhookId",)


def check_claim_types(claims: dict[str, Any]) -> None:
    """Every claim Closeout reads has the type and length Clockify gives it, or the token is refused."""
    for name, limit in _TEXT_CLAIMS.items():
        value = claims.get(name)
        if value is not None and not (isinstance(value, str) and 0 < len(value) <= limit):
            raise AuthError(f"token claim {name} is not usable")
    user = claims.get("user")
    user_id = user.get("id") if isinstance(user, dict) else user
    if user is not None and not (isinstance(user_id, str) and 0 < len(user_id) <= 64):
        raise AuthError("token claim user is not usable")
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise AuthError(f"token claim {name} is not usable")


def check_kind(claims: dict[str, Any], kind: TokenKind) -> None:
    """Tell token kinds apart by their claims: every Clockify token shares iss, sub and type.

    Only user tokens carry workspaceRole (docs/clockify.md#tokens); without this check a user token, which any
    member can read from an iframe URL, would pass as a lifecycle token and could uninstall the add-on.
    A lifecycle token carries no one's identity and is not a webhook's: a token with user or webhook
    claims (an installation token, or a webhook token an admin had Clockify mint) is never one (H-2).
    """
    check_claim_types(claims)
    if kind is TokenKind.LIFECYCLE:
        carried = [name for name in (*USER_CLAIMS, *WEBHOOK_CLAIMS) if name in claims]
        if carried:
            raise AuthError("a token naming a user or a webhook is not a lifecycle token")
    is_user_token = "workspaceRole" in claims
    if kind is TokenKind.USER and not (is_user_token and claims.get("user") and claims.get("workspaceId")):
        raise AuthError("a user token is required")
    if kind is not TokenKind.USER and is_user_token:
        raise AuthError(f"a user token is not accepted as a {kind.value} token")


def context(token: str, claims: dict[str, Any], kind: TokenKind) -> TokenContext:
    """The context of a verified token whose kind was checked."""
    return TokenContext(
        kind=kind,
        claims=claims,
        token=token,
        workspace_id=_str_or_none(claims.get("workspaceId")),
        addon_id=_str_or_none(claims.get("addonId")),
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Verifier:
    """Clockify's public key and the add-on key, bound once: what the web edge and the worker verify with."""

    key: Any = field(repr=False)
    addon_key: str
    leeway: int = 60

    @classmethod
    def from_config(cls, config: Any) -> Verifier:
        return cls(
            key=load_public_key(str(config["CLOCKIFY_PUBLIC_KEY"])),
            addon_key=str(config["ADDON_KEY"]),
            leeway=int(config.get("TOKEN_LEEWAY_SECONDS", 60)),
        )

    def verify(self, token: str, *, leeway: int | None = None) -> dict[str, Any]:
        return verify_token(
            token, key=self.key, addon_key=self.addon_key, leeway=self.leeway if leeway is None else leeway
        )


def verifier_for(app: Any) -> Verifier:
    """The app's token verifier (CLOCKIFY_PUBLIC_KEY parsed once per app), for the web edge and the worker."""
    return once_per_app(app, "closeout_verifier", lambda app: Verifier.from_config(app.config))
