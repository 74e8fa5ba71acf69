"""Logs: one JSON object a line in production, with what a request or a job was about, and redaction.

Every record passes `redact` before it is written, whatever logger wrote it (ours, werkzeug, gunicorn,
huey, urllib3): JWTs, token-bearing query parameters and headers, bearer credentials, every query string,
and the configured secrets themselves are replaced. Bodies are never logged in the first place.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"
# Fields a record may carry (as `extra=` or from the context of its request or job), in output order.
FIELDS = (
    "request_id",
    "workspace_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "event_type",
    "job",
    "task_id",
    "outcome",
)

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("closeout_log_context", default=None)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # JSON Web Tokens (every Clockify token is one).
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Headers that carry credentials, as "Name: value", "'Name': 'value'" or "Name=value".
    (
        re.compile(
            r"(?i)((?:authorization|x-addon-token|x-addon-lifecycle-token|clockify-signature|x-api-key|cookie)"
            r"['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+|basic\s+)?[^\s'\",;}]+"
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    # Query strings (iframe URLs carry auth_token): the path stays, the query goes.
    (re.compile(r"(\?)[^\s\"'<>]+"), r"\1" + REDACTED),
    # A token-like parameter outside a URL.
    (
        re.compile(r"(?i)\b((?:auth_?token|access_token|token|secret|password|api_?key)=)[^&\s\"']+"),
        r"\1" + REDACTED,
    ),
]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def context() -> dict[str, Any]:
    return dict(_context.get() or {})


def bind(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Add fields to every record written in this context (a request, a job); `unbind` with the token."""
    return _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


def unbind(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _context.reset(token)


def clear() -> None:
    _context.set(None)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context fields, an exception's type and trace."""

    def __init__(self, secrets: Iterable[str] | None = None) -> None:
        super().__init__()
        # Built from gunicorn's logconfig_dict (no app yet): the secrets come from the environment.
        self.secrets = tuple(s for s in (environment_secrets() if secrets is None else secrets) if s)

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage(), self.secrets),
        }
        fields = {**context(), **{k: getattr(record, k) for k in FIELDS if getattr(record, k, None) is not None}}
        for key in FIELDS:
            if key in fields:
                value = fields[key]
                out[key] = redact(value, self.secrets) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__
            out["trace"] = redact(self.formatException(record.exc_info), self.secrets)
        return json.dumps(out, default=str)


def configured_secrets(config: Mapping[str, Any]) -> list[str]:
    return [
        str(v) for v in (config.get("SECRET_KEY"), *config.get("SECRET_KEY_FALLBACKS", ()), config.get("METRICS_TOKEN"))
    ]


def environment_secrets() -> list[str]:
    fallbacks = os.environ.get("SECRET_KEY_FALLBACKS", "").replace(",", " ").split()
    return [os.environ.get("SECRET_KEY", ""), *fallbacks, os.environ.get("METRICS_TOKEN", "")]


def configure_json(config: Mapping[str, Any]) -> None:
    """Production: every record, whoever writes it, as redacted JSON on stderr at LOG_LEVEL.

    One handler of ours on the root logger (a second app in the process replaces it), and gunicorn's own
    loggers get the same formatter.
    """
    formatter = JsonFormatter(configured_secrets(config))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "closeout", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.closeout = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(str(config.get("LOG_LEVEL") or "INFO"))
    for name in ("gunicorn.error", "gunicorn.access"):
        for gunicorn_handler in logging.getLogger(name).handlers:
            gunicorn_handler.setFormatter(formatter)
