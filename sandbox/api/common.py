"""What every API view shares: the world and caller, request parsing that refuses as Clockify does, paging."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from flask import Response, g, jsonify, request

from ..gate import Actor
from ..sandbox import current_sandbox
from ..state import Workspace, WorldError
from ..wire import parse_instant
from ..world import World

WS = "/v1/workspaces/<ws>"

SORT_ORDERS = ("ASCENDING", "DESCENDING")


def world() -> World:
    return current_sandbox().world


def actor() -> Actor:
    return g.actor


def bad(message: str) -> WorldError:
    return WorldError(400, message, 400)


def body_object() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise bad("Request body must be a JSON object")
    return data


def required(data: dict[str, Any], name: str) -> Any:
    value = data.get(name)
    if value is None or value == "":
        raise bad(f"Field '{name}' is required")
    return value


def id_value(data: dict[str, Any], name: str, *, needed: bool = True) -> str | None:
    """An id field: a non-empty string (required unless `needed` is False)."""
    value = data.get(name)
    if value is None or value == "":
        if needed:
            raise bad(f"Field '{name}' is required")
        return None
    if not isinstance(value, str):
        raise bad(f"Field '{name}' must be an id string")
    return value


def str_list(value: Any, name: str) -> list[str]:
    """A list of ids or names; None reads as empty."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad(f"Field '{name}' must be an array of strings")
    return value


def enum_value(value: Any, allowed: Iterable[str], name: str) -> Any:
    allowed = tuple(allowed)
    if value is None:
        return None
    if value not in allowed:
        raise bad(f"Invalid value for '{name}': must be one of {', '.join(allowed)}")
    return value


def query_enum(name: str, allowed: Iterable[str], default: str | None = None) -> str | None:
    return enum_value(request.args.get(name), allowed, name) or default


def query_bool(name: str, default: bool | None = None) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad(f"Invalid value for '{name}': must be true or false")


def instant(value: Any, name: str) -> datetime:
    try:
        return parse_instant(value)
    except (TypeError, ValueError):
        raise bad(f"Invalid value for '{name}': expected yyyy-MM-ddThh:mm:ssZ") from None


def query_instant(name: str, *, needed: bool = False) -> datetime | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if needed:
            raise bad(f"Parameter '{name}' is required")
        return None
    return instant(raw, name)


def int_value(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad(f"Invalid value for '{name}': expected an integer") from None
    if number < minimum or (maximum is not None and number > maximum):
        limit = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise bad(f"Invalid value for '{name}': must be {limit}")
    return number


def paged(items: list[Any], *, max_size: int | None = None, default_size: int = 50) -> list[Any]:
    """Slice by the `page` (1-based) and `page-size` (default 50) query parameters."""
    page = int_value(request.args.get("page"), "page", default=1)
    size = int_value(request.args.get("page-size"), "page-size", maximum=max_size, default=default_size)
    return items[(page - 1) * size : page * size]


def page_of(items: list[Any], page: int, size: int) -> list[Any]:
    return items[(page - 1) * size : page * size]


def sort_by(items: list[Any], key: Callable[[Any], Any], order: str | None) -> list[Any]:
    return sorted(items, key=key, reverse=order == "DESCENDING")


def list_arg(name: str) -> list[str]:
    """A list query parameter, given repeated or comma-separated."""
    values: list[str] = []
    for raw in request.args.getlist(name):
        values.extend(v for v in raw.split(",") if v)
    return values


def workspace(ws_id: str) -> Workspace:
    return world().workspace(ws_id)


def no_content(status: int = 200) -> Response:
    return Response(status=status)


def json_status(payload: Any, status: int) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response


def range_args() -> tuple[date, date]:
    start = query_instant("start", needed=True)
    end = query_instant("end", needed=True)
    assert start is not None and end is not None
    if end < start:
        raise bad("Parameter 'end' must not be before 'start'")
    return start.date(), end.date()
