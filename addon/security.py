"""The web edge of trust: reads tokens from requests, verifies them (tokens.py) and binds them to installations."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge as PayloadTooLarge

from . import inputs
from .clockify import time_budget
from .errors import paused_response
from .exceptions import AuthError, BadRequestError
from .extensions import BoundedCache, once_per_app
from .hosts import UntrustedHostError
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
    g.log_workspace_id = claims.get("workspaceId")  # the request's log line names the verified workspace
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
    """The request body as a JSON object, or a 400 (strict: see inputs.json_object)."""
    if not request.is_json:
        raise BadRequestError("body must be a JSON object")
    return inputs.json_object(request.get_data())


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


def verify_lifecycle(
    installing: bool = False, *, deleting: bool = False, consume: bool = True
) -> tuple[TokenContext, dict[str, Any], Installation | None]:
    """Lifecycle calls: only X-Addon-Lifecycle-Token, recognised, bound to the body and installation, used once.

    Recognised: no user or webhook claims (tokens.check_kind), and it names its workspace and
    installation. Bound: `installing` is True for INSTALLED, which may carry a new addonId (a reinstall);
    every other event must come from the installation Closeout holds, so a late call of an earlier
    installation cannot pause or delete the current one; a removed installation's addonId is refused
    for good (DELETED excepted: acknowledging it again changes nothing). Used once: see
    installations.consume_lifecycle_token; INSTALLED passes consume=False and consumes it itself once it
    has checked what needs Clockify (no write transaction is held across those calls).
    """
    token = request.headers.get(LIFECYCLE_HEADER) or ""
    ctx = _verify(token, TokenKind.LIFECYCLE)
    if not ctx.workspace_id:
        raise AuthError("lifecycle token names no workspace")
    if not ctx.addon_id:
        raise AuthError("lifecycle token names no installation")
    body = json_body()
    workspace_id = _bind_to_body(ctx, body)
    installation = installations.find(workspace_id)
    installations.refuse_stored_tokens(token, workspace_id, installation)
    body_addon = body.get("addonId")
    if installation is not None and not installing:
        for addon_id in (ctx.addon_id, body_addon if isinstance(body_addon, str) and body_addon else None):
            if addon_id is not None and addon_id != installation.addon_id:
                raise AuthError("addonId does not match the installation")
    if not deleting and installations.is_removed(ctx.addon_id):
        raise AuthError("that installation was removed; its tokens are no longer accepted")
    if consume:
        consume_lifecycle_token(ctx)
    return ctx, body, installation


def consume_lifecycle_token(ctx: TokenContext) -> None:
    """Mark a verified lifecycle token used (a second use is refused)."""
    max_age = float(current_app.config.get("LIFECYCLE_TOKEN_MAX_AGE_SECONDS", 900))
    installations.consume_lifecycle_token(ctx.token, ctx.claims, max_age)


def api_hosts() -> tuple[str, ...]:
    """CLOCKIFY_API_HOSTS of this app: where Closeout may send a token."""
    return tuple(current_app.config["CLOCKIFY_API_HOSTS"])


def verify_webhook_request(event_type: str) -> tuple[TokenContext, dict[str, Any], str]:
    """Everything about a delivery that needs no database: its token, event type and body.

    Returns the token context, the body and the token's digest, which the inbox insert matches against
    the stored subscription in the same statement (see inbox.accept_delivery).
    """
    token = request.headers.get(WEBHOOK_HEADER) or ""
    ctx = _verify(token, TokenKind.WEBHOOK)
    # A delivery is stored as large as it arrives: no Clockify event comes near this cap (M-6).
    size = request.content_length or len(request.get_data())
    if size > int(current_app.config.get("WEBHOOK_MAX_BYTES", 64 * 1024)):
        raise PayloadTooLarge("webhook body is larger than any Clockify event")
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
    try:
        installations.token_urls(ctx.claims, api_hosts())
    except UntrustedHostError as exc:
        raise AuthError("token names an API host that is not Clockify's") from exc
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
            # A person is waiting: Clockify calls of this page get a few seconds in all, then the page
            # renders from what is stored (M-5).
            with time_budget(float(current_app.config.get("CLOCKIFY_PAGE_BUDGET_SECONDS", 4.0))):
                return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator
