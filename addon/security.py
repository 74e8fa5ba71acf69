"""The web edge of trust: reads tokens from requests, verifies them (tokens.py) and binds them to installations."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app, g, request

from .errors import paused_response
from .exceptions import AuthError, BadRequestError
from .extensions import BoundedCache, once_per_app
from .platform import installations
from .platform.models import Installation
from .tokens import TokenContext, TokenKind, Verifier, check_kind, context, verifier_for

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

LIFECYCLE_HEADER = "X-Addon-Lifecycle-Token"
WEBHOOK_HEADER = "Clockify-Signature"
WEBHOOK_EVENT_HEADER = "Clockify-Webhook-Event-Type"
# Header the component pages' glue script puts on every htmx call (the iframe URL carries it only once).
USER_TOKEN_HEADER = "X-Addon-Token"  # noqa: S105 (a header name)
USER_TOKEN_QUERY = "auth_token"  # noqa: S105 (a parameter name)


def verifier() -> Verifier:
    """The app's token verifier (CLOCKIFY_PUBLIC_KEY parsed once per app)."""
    return verifier_for(current_app._get_current_object())  # type: ignore[attr-defined]


def public_key() -> Any:
    """The verification key from CLOCKIFY_PUBLIC_KEY."""
    return verifier().key


def _verify(token: str | None, kind: TokenKind) -> TokenContext:
    # Webhook and installation tokens never expire and arrive again and again: the same string verifies
    # the same way while the key is the same, so its claims are kept (only for tokens without exp).
    cache = _token_cache("closeout_verified_tokens")
    claims = cache.get(token or "")
    if claims is None:
        claims = verifier().verify(token or "")
        if "exp" not in claims:
            cache.put(token or "", claims)
    check_kind(claims, kind)
    return context(token or "", claims, kind)


# Never-expiring tokens (webhook, installation) verified by this process, and what they verified to:
# the most recently seen only, each entry naming its workspace so DELETED drops them.
TOKEN_CACHE_ENTRIES = 10_000


def _token_cache(name: str) -> BoundedCache[str, Any]:
    return once_per_app(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        name,
        lambda _app: BoundedCache(TOKEN_CACHE_ENTRIES, workspace_of=_workspace_of_entry),
    )


def _workspace_of_entry(_token: str, value: Any) -> str | None:
    # Verified claims carry their workspace; a webhook digest entry is (workspace id, digest).
    return value.get("workspaceId") if isinstance(value, dict) else value[0]


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
    installation = installations.find(workspace_id)
    installations.refuse_stored_tokens(token, workspace_id, installation)
    body_addon = body.get("addonId")
    if installation is not None and not installing:
        for addon_id in (ctx.addon_id, body_addon if isinstance(body_addon, str) and body_addon else None):
            if addon_id is not None and addon_id != installation.addon_id:
                raise AuthError("addonId does not match the installation")
    return ctx, body, installation


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
    digests = _token_cache("closeout_webhook_token_digests")
    remembered = digests.get(token)
    if remembered is not None:
        return ctx, body, str(remembered[1])
    token_digest = installations.token_digest(token)
    if "exp" not in ctx.claims:
        digests.put(token, (ctx.workspace_id, token_digest))
    return ctx, body, token_digest


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
    installation = installations.find(ctx.workspace_id)
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
                return paused_response()
            if admin and not ctx.is_admin:
                raise AuthError("Only workspace owners and admins can open this page.", status=403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator
