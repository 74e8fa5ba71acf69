"""Webhooks: those an add-on creates through the API, and its manifest's, as the API lists them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from .. import dto
from ..sandbox import current_sandbox
from ..state import NotFound, WorldError
from .common import (
    WS,
    actor,
    bad,
    body_object,
    enum_value,
    json_status,
    no_content,
    query_enum,
    required,
    str_list,
    workspace,
    world,
)

bp = Blueprint("webhooks", __name__)


WEBHOOK_EVENTS = [
    "NEW_PROJECT",
    "NEW_TASK",
    "NEW_CLIENT",
    "NEW_TIMER_STARTED",
    "TIMER_STOPPED",
    "TIME_ENTRY_UPDATED",
    "TIME_ENTRY_DELETED",
    "TIME_ENTRY_SPLIT",
    "NEW_TIME_ENTRY",
    "TIME_ENTRY_RESTORED",
    "NEW_TAG",
    "USER_DELETED_FROM_WORKSPACE",
    "USER_JOINED_WORKSPACE",
    "USER_DEACTIVATED_ON_WORKSPACE",
    "USER_ACTIVATED_ON_WORKSPACE",
    "USER_EMAIL_CHANGED",
    "USER_UPDATED",
    "NEW_INVOICE",
    "INVOICE_UPDATED",
    "NEW_APPROVAL_REQUEST",
    "APPROVAL_REQUEST_STATUS_UPDATED",
    "TIME_OFF_REQUESTED",
    "TIME_OFF_REQUEST_UPDATED",
    "TIME_OFF_REQUEST_APPROVED",
    "TIME_OFF_REQUEST_REJECTED",
    "TIME_OFF_REQUEST_WITHDRAWN",
    "BALANCE_UPDATED",
    "TAG_UPDATED",
    "TAG_DELETED",
    "TASK_UPDATED",
    "CLIENT_UPDATED",
    "TASK_DELETED",
    "CLIENT_DELETED",
    "EXPENSE_RESTORED",
    "ASSIGNMENT_CREATED",
    "ASSIGNMENT_DELETED",
    "ASSIGNMENT_PUBLISHED",
    "ASSIGNMENT_UPDATED",
    "EXPENSE_CREATED",
    "EXPENSE_DELETED",
    "EXPENSE_UPDATED",
    "PROJECT_UPDATED",
    "PROJECT_DELETED",
    "USER_GROUP_CREATED",
    "USER_GROUP_UPDATED",
    "USER_GROUP_DELETED",
    "USERS_INVITED_TO_WORKSPACE",
    "LIMITED_USERS_ADDED_TO_WORKSPACE",
    "COST_RATE_UPDATED",
    "BILLABLE_RATE_UPDATED",
]

TRIGGER_SOURCE_TYPES = ("PROJECT_ID", "USER_ID", "TAG_ID", "TASK_ID", "WORKSPACE_ID", "ASSIGNMENT_ID", "EXPENSE_ID")

# Clockify: each admin up to 10 webhooks, 100 per workspace (API reference, "Webhooks").
MAX_WORKSPACE_WEBHOOKS = 100

MAX_WEBHOOKS_PER_USER = 10


@bp.post(f"{WS}/webhooks")
def create_webhook(ws: str) -> Response:
    data = body_object()
    url = required(data, "url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise bad("Field 'url' must be an http(s) URL")
    event = enum_value(required(data, "webhookEvent"), WEBHOOK_EVENTS, "webhookEvent")
    source_type = enum_value(required(data, "triggerSourceType"), TRIGGER_SOURCE_TYPES, "triggerSourceType")
    if data.get("triggerSource") is None:
        raise bad("Field 'triggerSource' is required")
    sources = str_list(data.get("triggerSource"), "triggerSource")
    name = data.get("name") or event.lower()
    if not isinstance(name, str) or not 2 <= len(name) <= 30:
        raise bad("Field 'name' must be 2 to 30 characters")
    me = actor()
    me.require_admin()
    box = current_sandbox()
    the_world = world()
    with the_world.lock:
        installation = the_world.installations[ws]
        created = [h for h in installation.webhooks if h.get("source") == "api"] + workspace(ws).user_webhooks
        if len(created) >= MAX_WORKSPACE_WEBHOOKS:
            raise bad("Webhook limit reached for this workspace")
        # Manifest webhooks do not count; those created through this API do, per creating user.
        if sum(1 for h in created if h.get("userId") == me.user_id) >= MAX_WEBHOOKS_PER_USER:
            raise bad("Webhook limit reached: at most 10 webhooks per user")
        hook_id = the_world.new_id()
        # Same claims as the manifest webhooks' tokens (docs/clockify.md#tokens); fixed per webhook, no expiry.
        token = box.signer.mint({"workspaceId": ws, "addonId": installation.addon_id, "webhookId": hook_id})
        hook = {
            "id": hook_id,
            "event": event,
            "url": url,
            "token": token,
            "source": "api",
            "name": name,
            "triggerSource": list(sources) or [ws],
            "triggerSourceType": source_type,
            "enabled": True,
            "userId": me.user_id,
        }
        installation.webhooks.append(hook)
        return json_status(dto.webhook_dto(ws, hook), 201)


def _addon_hooks(ws: str) -> list[dict[str, Any]]:
    return list(world().installations[ws].webhooks)


@bp.get(f"{WS}/webhooks")
def webhooks(ws: str) -> Response:
    kind = query_enum("type", ("USER_CREATED", "SYSTEM", "ADDON"))
    actor().require_admin()
    with world().lock:
        hooks = [] if kind == "USER_CREATED" else _addon_hooks(ws)
        return jsonify(dto.webhooks_dto(ws, hooks))


@bp.get(f"{WS}/webhooks/<webhook_id>")
def webhook(ws: str, webhook_id: str) -> Response:
    actor().require_admin()
    with world().lock:
        for hook in _addon_hooks(ws):
            if hook["id"] == webhook_id:
                return jsonify(dto.webhook_dto(ws, hook))
    raise NotFound("Webhook")


@bp.delete(f"{WS}/webhooks/<webhook_id>")
def delete_webhook(ws: str, webhook_id: str) -> Response:
    actor().require_admin()
    with world().lock:
        installation = world().installations[ws]
        kept = [h for h in installation.webhooks if h["id"] != webhook_id]
        if len(kept) == len(installation.webhooks):
            raise NotFound("Webhook")
        installation.webhooks[:] = kept
    return no_content()


@bp.get(f"{WS}/addons/<addon_id>/webhooks")
def addon_webhooks(ws: str, addon_id: str) -> Response:
    me = actor()
    if addon_id != me.addon_id:
        raise WorldError(403, "Access denied: another addon's webhooks", 403)
    with world().lock:
        hooks = _addon_hooks(ws)
        return jsonify(dto.webhooks_dto(ws, hooks))
