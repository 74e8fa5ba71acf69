"""Verification of every token Clockify sends, the typed route policy, and workspace roles."""

from __future__ import annotations

import contextlib
import enum
import functools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import current_app, g, request

from .crypto import DecryptionError, decrypt, digest, same_secret
from .extensions import db
from .models import Installation, WebhookSubscription

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

LIFECYCLE_HEADER = "X-Addon-Lifecycle-Token"
WEBHOOK_HEADER = "Clockify-Signature"
WEBHOOK_EVENT_HEADER = "Clockify-Webhook-Event-Type"
# Header the component pages' glue script puts on every htmx call (the iframe URL carries it only once).
USER_TOKEN_HEADER = "X-Addon-Token"  # noqa: S105 (a header name)
USER_TOKEN_QUERY = "auth_token"  # noqa: S105 (a parameter name)


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


class AuthError(Exception):
    """A request that must not be trusted: status is 401 (who are you) or 403 (not allowed)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class BadRequestError(Exception):
    """A verified request whose body or headers cannot be used (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


def public_key() -> Any:
    """The verification key from CLOCKIFY_PUBLIC_KEY (PEM text or a path), parsed once per app."""
    cached = current_app.extensions.get("closeout_public_key")
    if cached is None:
        cached = load_public_key(str(current_app.config["CLOCKIFY_PUBLIC_KEY"]))
        current_app.extensions["closeout_public_key"] = cached
    return cached


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


def _verify(token: str | None, kind: TokenKind) -> TokenContext:
    config = current_app.config
    # Webhook and installation tokens never expire and arrive again and again: the same string verifies
    # the same way while the key is the same, so its claims are kept (only for tokens without exp).
    cache: dict[str, dict[str, Any]] = current_app.extensions.setdefault("closeout_verified_tokens", {})
    claims = cache.get(token or "")
    if claims is None:
        claims = verify_token(
            token or "",
            key=public_key(),
            addon_key=config["ADDON_KEY"],
            leeway=int(config["TOKEN_LEEWAY_SECONDS"]),
        )
        if "exp" not in claims:
            _remember(cache, token or "", claims)
    _check_kind(claims, kind)
    return TokenContext(
        kind=kind,
        claims=claims,
        token=token or "",
        workspace_id=_str_or_none(claims.get("workspaceId")),
        addon_id=_str_or_none(claims.get("addonId")),
    )


def _remember(cache: dict[str, Any], token: str, value: Any) -> None:
    """Keep what a never-expiring token verified to, within a bound (a flood of new tokens only empties it)."""
    if len(cache) >= 10_000:
        cache.clear()
    cache[token] = value


def _check_kind(claims: dict[str, Any], kind: TokenKind) -> None:
    """Tell token kinds apart by their claims: every Clockify token shares iss, sub and type.

    Only user tokens carry workspaceRole (platform.md §3.2); without this check a user token, which any
    member can read from an iframe URL, would pass as a lifecycle token and could uninstall the add-on.
    """
    is_user_token = "workspaceRole" in claims
    if kind is TokenKind.USER and not (is_user_token and claims.get("user") and claims.get("workspaceId")):
        raise AuthError("a user token is required")
    if kind is not TokenKind.USER and is_user_token:
        raise AuthError(f"a user token is not accepted as a {kind.value} token")


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, or a 400."""
    body = None
    raw = b""
    if request.is_json:
        raw = request.get_data()
        # Not JSON, or not UTF-8 (a UnicodeDecodeError is a ValueError): a 400 below.
        with contextlib.suppress(ValueError):
            body = json.loads(raw)
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object")
    # JSON may escape half of a surrogate pair, which no text encoding can store: refuse it here
    # rather than fail later. Only a body with such an escape pays for the check.
    if _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(body, ensure_ascii=False).encode()
        except UnicodeEncodeError as exc:
            raise BadRequestError("body holds text that is not valid Unicode") from exc
    return body


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _bind_to_body(ctx: TokenContext, body: dict[str, Any]) -> str:
    workspace_id = body.get("workspaceId")
    if not isinstance(workspace_id, str) or not workspace_id:
        raise BadRequestError("workspaceId is required")
    if ctx.workspace_id and ctx.workspace_id != workspace_id:
        raise AuthError("token was issued for another workspace")
    body_addon = body.get("addonId")
    if ctx.addon_id and isinstance(body_addon, str) and body_addon and body_addon != ctx.addon_id:
        raise AuthError("token was issued for another installation")
    return workspace_id


def _stored_installation(workspace_id: str | None) -> Installation | None:
    if not workspace_id:
        return None
    return db.session.scalar(db.select(Installation).filter_by(workspace_id=workspace_id))


def _check_installation_claims(ctx: TokenContext, installation: Installation | None) -> None:
    if installation is not None and ctx.addon_id and ctx.addon_id != installation.addon_id:
        raise AuthError("token belongs to another installation")


def verify_lifecycle(installing: bool = False) -> tuple[TokenContext, dict[str, Any], Installation | None]:
    """Lifecycle calls: only X-Addon-Lifecycle-Token, bound to the body and to the stored installation.

    `installing` is True for INSTALLED, which may carry a new addonId (a reinstall); every other event
    must come from the installation Closeout holds, so a late call of an earlier installation of the
    same workspace cannot pause or delete the current one.
    """
    token = request.headers.get(LIFECYCLE_HEADER) or ""
    ctx = _verify(token, TokenKind.LIFECYCLE)
    if not ctx.workspace_id:
        raise AuthError("lifecycle token names no workspace")
    body = json_body()
    workspace_id = _bind_to_body(ctx, body)
    installation = _stored_installation(workspace_id)
    _refuse_stored_tokens(token, workspace_id, installation)
    body_addon = body.get("addonId")
    if installation is not None and not installing:
        for addon_id in (ctx.addon_id, body_addon if isinstance(body_addon, str) and body_addon else None):
            if addon_id is not None and addon_id != installation.addon_id:
                raise AuthError("addonId does not match the installation")
    return ctx, body, installation


def _refuse_stored_tokens(token: str, workspace_id: str, installation: Installation | None) -> None:
    """A lifecycle token is never one Closeout already holds for another purpose.

    Every Clockify token shares iss/sub/type, and webhook tokens (which never expire) can be read by the
    workspace's admins through the Webhooks API: without this, one would pass as a lifecycle token.
    """
    token_digest = digest(token)
    reused = db.session.scalar(
        sa.select(WebhookSubscription.id)
        .where(WebhookSubscription.workspace_id == workspace_id, WebhookSubscription.token_digest == token_digest)
        .limit(1)
    )
    if reused is not None:
        raise AuthError("a webhook token is not accepted as a lifecycle token")
    if installation is not None:
        try:
            if same_secret(decrypt(installation.token_ciphertext), token):
                raise AuthError("the installation token is not accepted as a lifecycle token")
        except DecryptionError:
            log.error("installation token for workspace %s cannot be decrypted", workspace_id)


@dataclass(frozen=True)
class WebhookTarget:
    """The installation a verified delivery belongs to, as much of it as intake needs."""

    workspace_id: str
    is_active: bool


def verify_webhook_request(event_type: str) -> tuple[TokenContext, dict[str, Any], str]:
    """Everything about a delivery that needs no database: its token, event type and body.

    Returns the token context, the body and the token's digest, which the inbox insert matches against
    the stored subscription in the same statement (see inbox.accept_delivery).
    """
    token = request.headers.get(WEBHOOK_HEADER) or ""
    ctx = _verify(token, TokenKind.WEBHOOK)
    sent_type = request.headers.get(WEBHOOK_EVENT_HEADER, "")
    if sent_type != event_type:
        raise BadRequestError(f"event type {sent_type or '(none)'} does not belong on this route")
    body = json_body()
    body_ws = body.get("workspaceId")
    if not ctx.workspace_id:
        raise AuthError("token names no workspace")
    if isinstance(body_ws, str) and body_ws and body_ws != ctx.workspace_id:
        raise AuthError("token was issued for another workspace")
    # A webhook token arrives with every delivery and never expires: its digest is kept like its claims.
    digests: dict[str, str] = current_app.extensions.setdefault("closeout_webhook_token_digests", {})
    token_digest = digests.get(token)
    if token_digest is None:
        token_digest = digest(token)
        if "exp" not in ctx.claims:
            _remember(digests, token, token_digest)
    return ctx, body, token_digest


def webhook_target(ctx: TokenContext, event_type: str, token_digest: str) -> WebhookTarget:
    """The installation whose stored subscription for `event_type` has this token, or a 401."""
    row = db.session.execute(
        sa.select(Installation.is_active, Installation.addon_id)
        .join(WebhookSubscription, WebhookSubscription.workspace_id == Installation.workspace_id)
        .where(
            Installation.workspace_id == ctx.workspace_id,
            WebhookSubscription.event_type == event_type,
            WebhookSubscription.token_digest == token_digest,
        )
        .limit(1)
    ).first()
    if row is None:
        raise AuthError("token does not match a stored webhook of an installed workspace")
    if ctx.addon_id and ctx.addon_id != row.addon_id:
        raise AuthError("token belongs to another installation")
    return WebhookTarget(workspace_id=str(ctx.workspace_id), is_active=bool(row.is_active))


def user_token_from_request() -> str | None:
    header = request.headers.get(USER_TOKEN_HEADER)
    if header:
        return header
    # The query parameter is how Clockify opens an iframe; later calls must use the header.
    if request.method == "GET" and not request.headers.get("HX-Request"):
        return request.args.get(USER_TOKEN_QUERY)
    return None


def verify_user() -> tuple[TokenContext, Installation]:
    """Component and UI calls: a user token for an installed workspace."""
    ctx = _verify(user_token_from_request(), TokenKind.USER)
    installation = _stored_installation(ctx.workspace_id)
    if installation is None:
        raise AuthError("Closeout is not installed on this workspace", status=403)
    _check_installation_claims(ctx, installation)
    return ctx, installation


def requires_user(admin: bool = False) -> Callable[[F], F]:
    """Decorate a UI view: verify the user token, stash the context in g, optionally require an admin."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            ctx, installation = verify_user()
            g.auth = ctx
            g.installation = installation
            if not installation.is_active:
                from .errors import paused_response

                return paused_response()
            if admin and not ctx.is_admin:
                raise AuthError("Only workspace owners and admins can open this page.", status=403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator
