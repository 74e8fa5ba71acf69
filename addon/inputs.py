"""Strict reading of what arrives from outside: JSON bodies, text and id fields, numbers. One place to call.

Every refusal is a BadRequestError (400) with a message that names the field, never the value.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .exceptions import BadRequestError

# Deeper than any Clockify body (webhook payloads nest four or five levels); far below the recursion limit.
MAX_DEPTH = 32
ID_MAX = 64
TEXT_MAX = 1000

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object from raw bytes, or a 400: not JSON or UTF-8, NaN/Infinity, too deep, lone surrogates."""
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadRequestError("body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object")
    check_depth(body)
    # JSON may escape half of a surrogate pair, which no text encoding can store: refuse it here rather
    # than fail later. Only a body with such an escape pays for the check.
    if _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(body, ensure_ascii=False).encode()
        except UnicodeEncodeError as exc:
            raise BadRequestError("body holds text that is not valid Unicode") from exc
    return body


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse structures nested deeper than `limit`, and NUL in any text (no database column stores it);
    walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise BadRequestError("body holds a NUL character")
        elif isinstance(item, dict | list):
            if depth > limit:
                raise BadRequestError("body nests too deeply")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def text(value: Any, field: str, *, max_length: int = TEXT_MAX, required: bool = False) -> str | None:
    """A text field: a string without NUL or other control characters, at most `max_length` long."""
    if value is None or value == "":
        if required:
            raise BadRequestError(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"{field} must be text")
    if len(value) > max_length:
        raise BadRequestError(f"{field} is longer than {max_length} characters")
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in value):
        raise BadRequestError(f"{field} holds control characters")
    return value


def identifier(value: Any, field: str, *, required: bool = True) -> str | None:
    """A Clockify id: printable ASCII without spaces, at most ID_MAX characters."""
    found = text(value, field, max_length=ID_MAX, required=required)
    if found is not None and (not found.isascii() or not found.isprintable() or " " in found):
        raise BadRequestError(f"{field} is not an id")
    return found


def finite_number(value: Any, field: str) -> float:
    """A JSON number that is finite (never a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequestError(f"{field} must be a number")
    return float(value)
