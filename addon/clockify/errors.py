"""The Clockify client's error tree: one class per kind of failure, each with status and Clockify's message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Which Closeout feature a refused path belongs to, and the lowest Clockify plan that has it.
# The UI uses this to say "Approvals need a Standard plan or higher" instead of a bare 403
# (403 covers scope, role, plan and disabled features alike: docs/clockify.md#errors).
_FEATURES: tuple[tuple[str, str, str, str | None], ...] = (
    # (path fragment, feature key, feature name, plan that includes it)
    ("/approval-requests", "approvals", "Approvals", "Standard"),
    ("/invoices", "invoices", "Invoicing", "Standard"),
    ("/scheduling/", "scheduling", "Scheduling", "Pro"),
    ("/time-off/", "time_off", "Time off", "Standard"),
    ("/holidays", "holidays", "Holidays", "Standard"),
    ("/expenses", "expenses", "Expenses", "Pro"),
    ("/reports/", "reports", "Reports", None),
    ("/webhooks", "webhooks", "Webhooks", None),
    ("/user-groups", "user_groups", "User groups", None),
    ("/member-profile/", "member_profiles", "Member profiles", None),
    ("/time-entries", "time_entries", "Time entries", None),
    ("/addon/", "addon_settings", "Add-on settings", None),
)


@dataclass(frozen=True)
class Feature:
    key: str
    name: str
    plan: str | None

    @property
    def message(self) -> str:
        if self.plan:
            return f"{self.name} need a {self.plan} plan or higher, enabled in the workspace settings."
        return f"{self.name} are not available to Closeout in this workspace."


def feature_for_path(path: str) -> Feature | None:
    """Guess the Clockify feature an API path belongs to (None when it is not a gated feature)."""
    for fragment, key, name, plan in _FEATURES:
        if fragment in path:
            return Feature(key, name, plan)
    return None


class ClockifyError(Exception):
    """Any failure of a Clockify call. `path` never carries the query string or a token."""

    status: int | None = None

    def __init__(
        self, message: str, *, method: str = "", path: str = "", status: int | None = None, code: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        if status is not None:
            self.status = status
        self.code = code

    def __str__(self) -> str:
        where = f"{self.method} {self.path}".strip()
        status = f" {self.status}" if self.status is not None else ""
        return f"{where}{status}: {self.message}" if where else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, method={self.method!r}, path={self.path!r})"


class TransportError(ClockifyError):
    """The request did not get an HTTP answer (connect failure, timeout, dropped connection).

    `maybe_applied` is False only when Clockify certainly never saw the request (connect failure);
    after a read timeout or a dropped connection a POST may or may not have been applied.
    """

    def __init__(self, message: str, *, method: str, path: str, maybe_applied: bool, timeout: bool) -> None:
        super().__init__(message, method=method, path=path)
        self.maybe_applied = maybe_applied
        self.timeout = timeout


class BudgetExceededError(TransportError):
    """The page's time for Clockify calls ran out (see client.time_budget): render from what is stored."""


class HTTPError(ClockifyError):
    """Clockify answered with an error status."""


class BadRequestError(HTTPError):
    status = 400


class UnauthorizedError(HTTPError):
    """401: bad or revoked token, or (as observed live, docs/clockify.md#errors) a missing scope."""

    status = 401

    @property
    def is_missing_permission(self) -> bool:
        text = self.message.lower()
        return "permission" in text or "not accessible" in text


class ForbiddenError(HTTPError):
    """403: the token's scopes, the user's role, or the workspace's plan/features refuse the call."""

    status = 403

    @property
    def feature(self) -> Feature | None:
        return feature_for_path(self.path)


class NotFoundError(HTTPError):
    status = 404


class ConflictError(HTTPError):
    """Any other 4xx (405, 409, 415, 422 …): the request as sent will not succeed by retrying."""


class RateLimitedError(HTTPError):
    """429 after the client's retries ran out; `retry_after` is Clockify's hint in seconds, if any."""

    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(HTTPError):
    """5xx after the client's retries ran out (or a non-idempotent call that must not be re-sent)."""


_BY_STATUS: dict[int, type[HTTPError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    429: RateLimitedError,
}


def message_from_body(body: bytes, reason: str) -> tuple[str, Any]:
    """Clockify's `{"message", "code"}` error body (docs/clockify.md#errors, third-party) — or whatever came back."""
    text = body.decode("utf-8", "replace").strip() if body else ""
    if text:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            message = data.get("message") or data.get("error") or data.get("title")
            if isinstance(message, str) and message.strip():
                return message.strip()[:500], data.get("code")
        elif not text.startswith("<"):
            return text[:500], None
    return reason or "no message", None


def error_for_status(
    status: int, body: bytes, *, reason: str, method: str, path: str, retry_after: float | None = None
) -> HTTPError:
    """Build the error class that matches an HTTP status."""
    message, code = message_from_body(body, reason)
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after, method=method, path=path, status=429, code=code)
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else ConflictError
    return cls(message, method=method, path=path, status=status, code=code)


def refusal_text(exc: BaseException, fallback: str) -> str:
    """What a person reads for a refused call: Clockify's own message (or `fallback`), bounded, never a trace."""
    message = getattr(exc, "message", "") or fallback
    return f"Clockify refused: {message}"[:500]
