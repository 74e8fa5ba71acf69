"""The Clockify hosts Closeout may send a token to (CLOCKIFY_API_HOSTS): the one check every URL passes."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .clockify.errors import ClockifyError

log = logging.getLogger(__name__)

# Clockify's API hosts in every region and its reports/locations/screenshots hosts (docs/clockify.md#tokens:
# api.clockify.me, reports.api.clockify.me, regional euc1.clockify.me …), all under clockify.me, https only.
DEFAULT_API_HOSTS = ("clockify.me", "*.clockify.me")

MAX_URL_LENGTH = 500


class UntrustedHostError(ClockifyError):
    """A URL Closeout would send a token to is not an allow-listed Clockify host."""


@dataclass(frozen=True)
class _Pattern:
    scheme: str | None  # None: https only
    host: str
    port: int | None
    wildcard: bool

    def matches(self, scheme: str, host: str, port: int | None) -> bool:
        if self.scheme is None:
            if scheme != "https" or port not in (None, 443):
                return False
        elif scheme != self.scheme or port != self.port:
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host


def parse_hosts(value: Any) -> tuple[str, ...]:
    """CLOCKIFY_API_HOSTS as configured: a comma-separated string or a list; empty means the default."""
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else (value or ())
    hosts = tuple(str(item).strip().lower() for item in items if str(item).strip())
    return hosts or DEFAULT_API_HOSTS


def _pattern(text: str) -> _Pattern:
    """`host`, `*.domain` (https only) or an origin `scheme://host[:port]` (exactly that origin)."""
    if "://" in text:
        parts = urlsplit(text)
        return _Pattern(parts.scheme, (parts.hostname or "").lower(), parts.port, False)
    wildcard = text.startswith("*.")
    return _Pattern(None, text[2:] if wildcard else text, None, wildcard)


def is_allowed(url: Any, hosts: Iterable[str]) -> bool:
    """Whether `url` is an http(s) URL on an allow-listed host (no credentials, no odd characters)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        return False
    if any(ch in url for ch in "\\\x00\r\n\t @") or not url.isascii():
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return False
    return any(_pattern(text).matches(parts.scheme, host, port) for text in hosts)


def require_allowed(url: Any, hosts: Iterable[str], what: str) -> str:
    """`url` itself when allow-listed; otherwise the refusal is logged (host only) and raised."""
    if is_allowed(url, hosts):
        return str(url)
    try:
        shown = urlsplit(url).hostname if isinstance(url, str) and len(url) <= MAX_URL_LENGTH else None
    except ValueError:
        shown = None
    log.warning("refused %s on a host outside CLOCKIFY_API_HOSTS: %s", what, shown or "(unusable)")
    raise UntrustedHostError(f"{what} is not a Clockify host Closeout may call")
