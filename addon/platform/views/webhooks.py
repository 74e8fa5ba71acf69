"""Webhook intake: verify, store in the inbox under a dedupe key, answer at once, process later."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from ...crypto import fallback_digests
from ...exceptions import AuthError
from ...manifest import API_WEBHOOK_EVENTS, api_webhook_path, webhook_paths
from ...queue import relay_inbox_event
from ...security import verify_webhook_request
from ..installations import WebhookTarget, webhook_target
from ..intake import accept_delivery, limiter_for, writer_for

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)


def _intake(event_type: str) -> Callable[[], tuple[Response, int]]:
    def view() -> tuple[Response, int]:
        ctx, body, token_digest = verify_webhook_request(event_type)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        if not limiter_for(app).allow(token_digest):
            log.info("rate limited %s deliveries for workspace %s", event_type, ctx.workspace_id)
            response = jsonify({"error": "Too Many Requests", "message": "slow down"})
            response.headers["Retry-After"] = "1"
            return response, 429
        # The common case in one statement: stored only if the token matches this webhook's stored token
        # and the installation is active; duplicates collide on the dedupe key.
        digests = [token_digest]
        inbox_id = accept_delivery(
            writer_for(app), str(ctx.workspace_id), event_type, body, token_digest=token_digest, addon_id=ctx.addon_id
        )
        if inbox_id is None:
            # While SECRET_KEY rotates, a subscription not yet re-keyed is found by its digest under an old key.
            for old in fallback_digests(ctx.token):
                digests.append(old)
                inbox_id = accept_delivery(
                    writer_for(app), str(ctx.workspace_id), event_type, body, token_digest=old, addon_id=ctx.addon_id
                )
                if inbox_id is not None:
                    break
        if inbox_id is not None:
            relay_inbox_event(app, inbox_id)  # the row is the source of truth: the sweep covers a lost hand-over
            return jsonify({"status": "accepted"}), 202
        # Nothing stored: a token that matches no webhook (401), a paused installation, or a duplicate.
        target = _target(ctx, event_type, digests)
        if not target.is_active:
            log.info("dropped %s for paused workspace %s", event_type, target.workspace_id)
            return jsonify({"status": "dropped"}), 202
        return jsonify({"status": "duplicate"}), 200

    view.__name__ = event_type.lower()
    view.__doc__ = f"Accept a {event_type} delivery."
    return view


def _target(ctx: Any, event_type: str, digests: list[str]) -> WebhookTarget:
    for candidate in digests[:-1]:
        with contextlib.suppress(AuthError):
            return webhook_target(ctx, event_type, candidate)
    return webhook_target(ctx, event_type, digests[-1])


for _event, _path in webhook_paths().items():
    bp.add_url_rule(_path, view_func=_intake(_event), methods=["POST"])
for _event in API_WEBHOOK_EVENTS:
    bp.add_url_rule(api_webhook_path(_event), view_func=_intake(_event), methods=["POST"])
