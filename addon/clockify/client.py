"""ClockifyClient: one session per installation, paced per workspace, retried only where safe, paged in few calls."""

from __future__ import annotations

import email.utils
import http.cookiejar
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from . import payloads as p
from .errors import (
    BadRequestError,
    BudgetExceededError,
    ClockifyError,
    ConflictError,
    HTTPError,
    RateLimitedError,
    ServerError,
    TransportError,
    error_for_status,
)
from .pacing import Limiter

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

TOKEN_HEADER = "X-Addon-Token"  # noqa: S105 (a header name)
USER_AGENT = "Closeout (Clockify add-on)"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "PATCH"})

# Largest page size per list. The API reference documents a maximum only for time-off lists (200) and
# in-progress entries (1000); elsewhere it gives `>= 1` and no bound, so Closeout asks for the largest
# size live clients report as accepted (docs/clockify.md#paging: 200 and 1000).
PAGE_SIZES: dict[str, int] = {
    "default": 200,
    "time_entries": 1000,
    "detailed_report": 1000,
    "in_progress": 1000,
    "time_off": 200,
    "scheduling_totals": 200,
}

# A POST answered with a 5xx, a read timeout or a dropped connection may or may not have been applied
# (Clockify ignores idempotency keys: docs/clockify.md#quirk-8). Such a POST is only
# re-sent after a read shows it did not happen.
Verify = Callable[[], Any]


@dataclass(frozen=True)
class BulkResult(Generic[T, R]):
    """One item of a bulk run: its value, or the Clockify error it ended with."""

    item: T
    value: R | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Answer:
    status: int
    data: Any
    headers: requests.structures.CaseInsensitiveDict[str]


# Told of every exchange: method, path (workspace id templated), status (None: no answer), seconds, rate wait.
CallObserver = Callable[[str, str, int | None, float, float], None]


@dataclass
class CallStats:
    """Counters a caller (or a benchmark) can read: requests sent, retries, 429s seen, time spent waiting."""

    sent: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited: float = 0.0


class _Headers(dict[str, str]):
    """Request headers whose printed form never shows the token (repr of a client, a debugger, a log)."""

    def __repr__(self) -> str:
        return repr({k: "[redacted]" if k == TOKEN_HEADER else v for k, v in self.items()})

    __str__ = __repr__


def new_session(pool_size: int = 32) -> requests.Session:
    """A session for Clockify calls: keeps connections open, never retries or stores cookies on its own."""
    session = requests.Session()
    # No hidden urllib3 retries: every retry decision is made (and paced) by the client.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # Clockify's API sets no cookies Closeout needs; a shared session must not carry one caller's to another.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def iso(value: datetime | date | str) -> str:
    """Clockify's timestamp form (yyyy-MM-ddTHH:mm:ss.SSSZ, UTC); a date means its midnight UTC."""
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


# When the current page must stop waiting for Clockify (time.monotonic()), set by time_budget; clients
# made while it is set keep it, whichever thread then calls.
_deadline: ContextVar[float | None] = ContextVar("closeout_clockify_deadline", default=None)


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Give every Clockify call of the clients made inside this block `seconds` in all, then fail fast.

    A page wraps its handling in this: with Clockify slow, it answers from what is stored within the
    budget instead of holding a server thread for minutes (M-5).
    """
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


class ClockifyClient:
    """Typed access to the Clockify API for one workspace and one token.

    Every call waits for the workspace's rate limiter, carries connect/read timeouts, and maps failures
    onto the error tree in `errors.py`. Idempotent calls are retried on 429, 5xx and transport failures
    with jittered exponential backoff; POSTs only after a 429 (never applied) or after a read proved an
    ambiguous attempt did not take effect.
    """

    def __init__(
        self,
        api_url: str,
        reports_url: str | None,
        token: str,
        workspace_id: str,
        *,
        limiter: Limiter,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 30),
        max_retries: int = 4,
        backoff_base: float = 0.25,
        backoff_cap: float = 8.0,
        max_retry_after: float = 60.0,
        settle_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        bucket: str | None = None,
        pool_size: int = 32,
        observer: CallObserver | None = None,
    ) -> None:
        if not api_url or not token or not workspace_id:
            raise ValueError("api_url, token and workspace_id are required")
        self.api_url = api_url.rstrip("/")
        self.reports_url = reports_url.rstrip("/") if reports_url else None
        self.workspace_id = workspace_id
        self.limiter = limiter
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.settle_seconds = settle_seconds
        self.stats = CallStats()
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._bucket = bucket or workspace_id
        self._observer = observer
        # Called before every exchange, retries included; whatever it raises stops the call unsent (a
        # background job's check that its installation is still there and active).
        self.before_send: Callable[[], None] | None = None
        self._stats_lock = threading.Lock()
        self.deadline = _deadline.get()
        self._own_session = session is None
        self._session = session or new_session(pool_size)
        # Sent with each request rather than set on the session: one session (and its open connections)
        # may serve the installation's and its users' tokens alike.
        self._headers = _Headers({TOKEN_HEADER: token, "Accept": "application/json", "User-Agent": USER_AGENT})

    def __repr__(self) -> str:
        return f"ClockifyClient(api_url={self.api_url!r}, workspace_id={self.workspace_id!r})"

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __enter__(self) -> ClockifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _ws(self, suffix: str = "") -> str:
        return f"/v1/workspaces/{self.workspace_id}{suffix}"

    def _base(self, base: str) -> str:
        if base == "reports":
            if not self.reports_url:
                raise ClockifyError("This installation has no reports URL (the token carried no reportsUrl claim).")
            return self.reports_url
        return self.api_url

    def _count(self, **deltas: float) -> None:
        with self._stats_lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def _backoff(self, attempt: int) -> float:
        """Equal-jitter exponential backoff: half fixed, half random, capped."""
        delay = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return delay / 2 + self._jitter() * delay / 2

    def _exchange(self, method: str, base: str, path: str, params: Any, body: Any) -> _Answer:
        """One paced HTTP exchange; raises the mapped error for any failure."""
        if self.before_send is not None:
            self.before_send()
        url = self._base(base) + path
        timeout = self._timeout_within_budget(method, path)
        waited = self.limiter.acquire(self._bucket)
        started = self._clock()
        self._count(sent=1, waited=waited)
        status: int | None = None
        try:
            # No redirects: requests would carry X-Addon-Token to whatever host a 3xx names, and turn a
            # redirected POST into a GET whose 200 looks like success.
            response = self._session.request(
                method,
                url,
                params=params,
                json=body,
                headers=self._headers,
                timeout=timeout,
                allow_redirects=False,
            )
            status = response.status_code
        except requests.exceptions.RequestException as exc:
            raise _transport_error(exc, method, path) from exc
        finally:
            self.limiter.release(self._bucket)
            self._observe(method, base, path, status, self._clock() - started, waited)
        elapsed = (self._clock() - started) * 1000
        log.debug("%s %s -> %s in %.0f ms", method, path, response.status_code, elapsed)
        if response.status_code >= 300:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise error_for_status(
                response.status_code,
                response.content,
                reason=response.reason or "",
                method=method,
                path=path,
                retry_after=retry_after,
            )
        return _Answer(response.status_code, _decode(response), response.headers)

    def _observe(self, method: str, base: str, path: str, status: int | None, seconds: float, waited: float) -> None:
        if self._observer is None:
            return
        try:
            where = ("/reports" if base == "reports" else "") + path.replace(self.workspace_id, "{workspaceId}")
            self._observer(method, where, status, seconds, waited)
        except Exception:  # an observer never fails a call
            log.debug("call observer failed", exc_info=True)

    def _timeout_within_budget(self, method: str, path: str) -> tuple[float, float]:
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if left <= 0.05:
            raise BudgetExceededError(
                "Clockify is slow to answer", method=method, path=path, maybe_applied=False, timeout=True
            )
        return (min(self.timeout[0], left), min(self.timeout[1], left))

    def _wait(self, seconds: float, method: str, path: str) -> None:
        """Sleep before a retry, unless that would outlast the page's budget."""
        if self.deadline is not None and time.monotonic() + seconds >= self.deadline:
            raise BudgetExceededError(
                "Clockify is slow to answer", method=method, path=path, maybe_applied=False, timeout=True
            )
        self._sleep(seconds)

    def _call(
        self,
        method: str,
        path: str,
        *,
        base: str = "api",
        params: Any = None,
        json: Any = None,
        idempotent: bool | None = None,
        verify: Verify | None = None,
    ) -> _Answer:
        """Send with pacing and the retry policy; `verify` reads back whether an ambiguous attempt took effect."""
        method = method.upper()
        safe_to_resend = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        ambiguous = False
        for attempt in itertools.count():
            try:
                return self._exchange(method, base, path, params, json)
            except RateLimitedError as exc:
                # A 429 is refused before it is applied: any method may be re-sent once the limit allows.
                self._count(rate_limited=1)
                delay = exc.retry_after if exc.retry_after is not None else self._backoff(attempt)
                # Hold back every client of this workspace, not only this call, even when this call gives up.
                self.limiter.pause(self._bucket, min(delay, self.max_retry_after))
                if attempt >= self.max_retries or (exc.retry_after or 0) > self.max_retry_after:
                    raise
                log.warning("%s %s rate limited; waiting %.2fs (attempt %d)", method, path, delay, attempt + 1)
            except (ServerError, TransportError) as exc:
                maybe_applied = not isinstance(exc, TransportError) or exc.maybe_applied
                if attempt >= self.max_retries:
                    raise
                if maybe_applied and not safe_to_resend:
                    if verify is None:
                        raise
                    # Clockify may still be working on the attempt we stopped waiting for: give it time
                    # to land before reading, or the read misses it and the re-send duplicates it.
                    self._wait(max(self.settle_seconds, self._backoff(attempt)), method, path)
                    found = verify()
                    if found is not None:
                        log.info("%s %s had taken effect before failing; not re-sent", method, path)
                        return _Answer(200, found, requests.structures.CaseInsensitiveDict())
                else:
                    self._wait(self._backoff(attempt), method, path)
                ambiguous = ambiguous or maybe_applied
                log.info(
                    "%s %s failed (%s); retrying (attempt %d)", method, path, exc.status or "transport", attempt + 1
                )
            except (BadRequestError, ConflictError):
                # A re-sent state change can be refused because its first attempt did apply
                # (e.g. approving an already approved request): a read tells.
                if ambiguous and verify is not None:
                    found = verify()
                    if found is not None:
                        return _Answer(200, found, requests.structures.CaseInsensitiveDict())
                raise
            self._count(retries=1)
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any API call by path (relative to the API base, or the reports base with base="reports")."""
        return self._call(method, path, **kwargs).data

    # ------------------------------------------------------------------ paging

    def _iter_pages(
        self,
        path: str,
        *,
        parse: Callable[[dict[str, Any]], T],
        page_size: int,
        params: dict[str, Any] | None = None,
        body: Callable[[int, int], dict[str, Any]] | None = None,
        items_key: str | None = None,
        total_key: str | None = None,
        total: Callable[[Any], int | None] | None = None,
        base: str = "api",
    ) -> Iterator[T]:
        """Every item of a paged list, parsed, in as few calls as the answers allow.

        A GET pages with `page`/`page-size` in the query; with `body(page, size)` it is a read-only POST that
        carries its paging in the body (reports, filtered lists). Paging stops at a short page, at the total
        (`total_key` in the answer, or `total(answer)`), at a `Last-Page` header, or when a page repeats the
        previous one (docs/clockify.md#paging). Items that are not JSON objects are skipped.
        """
        seen = 0
        previous: list[Any] = []
        for page in itertools.count(1):
            if body is None:
                query = {**(params or {}), "page": page, "page-size": page_size}
                answer = self._call("GET", path, base=base, params=_clean(query))
            else:
                answer = self._call("POST", path, base=base, json=body(page, page_size), idempotent=True)
            items, listed_total = _items(answer.data, items_key, total_key)
            if _repeats(previous, items, path):
                return
            previous = items
            for item in items:
                if isinstance(item, dict):
                    yield parse(item)
            seen += len(items)
            count = total(answer.data) if total else listed_total
            if _is_last(len(items), page_size, seen, count, answer.headers):
                return

    # ------------------------------------------------------------------ bulk

    def bulk(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        workers: int = 16,
    ) -> list[BulkResult[T, R]]:
        """Run `fn(item)` for every item on a bounded pool, so bulk work proceeds at the pace the limiter allows.

        Results come back in the items' order; a Clockify error ends only its own item.
        """
        listed = list(items)
        if not listed:
            return []

        def run(item: T) -> BulkResult[T, R]:
            try:
                return BulkResult(item, fn(item))
            except Exception as exc:
                # Any failure ends only its own item: the others were submitted and their results must be kept.
                return BulkResult(item, None, exc)

        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(listed))), thread_name_prefix="clockify") as pool:
            return list(pool.map(run, listed))

    # ------------------------------------------------------------------ users and workspace

    def get_current_user(self) -> p.User:
        return p.User.from_api(self.request("GET", "/v1/user"))

    def get_workspace(self) -> p.Workspace:
        return p.Workspace.from_api(self.request("GET", self._ws()))

    def iter_users(
        self, *, status: str | None = None, include_roles: bool = False, memberships: str | None = None
    ) -> Iterator[p.User]:
        params = {
            "status": status,
            "memberships": memberships,
            # Documented as required (clockify-api-v1.txt "Find all users on workspace").
            "include-roles": "true" if include_roles else "false",
            "sort-column": "ID",
        }
        yield from self._iter_pages(
            self._ws("/users"), params=params, page_size=PAGE_SIZES["default"], parse=p.User.from_api
        )

    def iter_user_groups(self, *, include_team_managers: bool = False) -> Iterator[p.UserGroup]:
        """User groups; with `include_team_managers` each raw record also lists its team managers."""
        params = {"includeTeamManagers": "true" if include_team_managers else None}
        yield from self._iter_pages(
            self._ws("/user-groups"), params=params, page_size=PAGE_SIZES["default"], parse=p.UserGroup.from_api
        )

    def iter_managers(self, user_id: str) -> Iterator[p.User]:
        path = self._ws(f"/users/{user_id}/managers")
        yield from self._iter_pages(path, page_size=PAGE_SIZES["default"], parse=p.User.from_api)

    def get_managers(self, user_id: str) -> list[p.User]:
        return list(self.iter_managers(user_id))

    def get_member_profile(self, user_id: str) -> p.MemberProfile:
        return p.MemberProfile.from_api(self.request("GET", self._ws(f"/member-profile/{user_id}")))

    def iter_clients(self, *, archived: bool | None = None) -> Iterator[p.Client]:
        params = {"archived": _flag(archived)}
        yield from self._iter_pages(
            self._ws("/clients"), params=params, page_size=PAGE_SIZES["default"], parse=p.Client.from_api
        )

    def iter_projects(self, *, archived: bool | None = None, hydrated: bool = False) -> Iterator[p.Project]:
        params = {"archived": _flag(archived), "hydrated": _flag(hydrated)}
        yield from self._iter_pages(
            self._ws("/projects"), params=params, page_size=PAGE_SIZES["default"], parse=p.Project.from_api
        )

    # ------------------------------------------------------------------ approvals

    def iter_approval_requests(
        self,
        status: str | None = None,
        *,
        sort_column: str | None = None,
        sort_order: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[p.ApprovalRequest]:
        """Approval requests with their period totals.

        Only PENDING, APPROVED and WITHDRAWN_APPROVAL can be listed by status (clockify-api-v1.txt;
        docs/clockify.md#quirk-5): rejected requests are not listable.
        """
        params = {"status": status, "sort-column": sort_column, "sort-order": sort_order}
        size = page_size or PAGE_SIZES["default"]
        yield from self._iter_pages(
            self._ws("/approval-requests"), params=params, page_size=size, parse=p.ApprovalRequest.from_api
        )

    def update_approval_request(self, request_id: str, state: str, note: str | None = None) -> p.ApprovalRequest:
        """Approve, reject or withdraw; a re-sent change that had already applied is recognised by reading back."""
        body = {"state": state, **({"note": note} if note else {})}
        answer = self._call(
            "PATCH",
            self._ws(f"/approval-requests/{request_id}"),
            json=body,
            verify=lambda: self._find_approval_in_state(request_id, state),
        )
        return p.ApprovalRequest.from_api(answer.data if isinstance(answer.data, dict) else {"id": request_id})

    def _find_approval_in_state(self, request_id: str, state: str) -> dict[str, Any] | None:
        """The request's raw record if it is now in `state` (read back: there is no GET by id)."""
        if state in ("PENDING", "APPROVED", "WITHDRAWN_APPROVAL"):
            for request in self.iter_approval_requests(state):
                if request.id == request_id:
                    return request.raw
            return None
        # REJECTED and WITHDRAWN_SUBMISSION are not listable (quirk 5): gone from PENDING means applied.
        if any(r.id == request_id for r in self.iter_approval_requests("PENDING")):
            return None
        return {"id": request_id, "status": {"state": state}}

    def submit_approval_request_for_user(
        self, user_id: str, period_start: datetime | date | str, period: str | None = None
    ) -> p.ApprovalRequest:
        """Submit a user's timesheet on their behalf; an ambiguous failure is checked by user+period first."""
        body = {"periodStart": iso(period_start), **({"period": period} if period else {})}
        answer = self._call(
            "POST",
            self._ws(f"/approval-requests/users/{user_id}"),
            json=body,
            verify=lambda: self._find_approval_for(user_id, period_start),
        )
        return p.ApprovalRequest.from_api(answer.data)

    def _find_approval_for(self, user_id: str, period_start: datetime | date | str) -> dict[str, Any] | None:
        wanted = p.parse_datetime(iso(period_start))
        for status in ("PENDING", "APPROVED"):
            for request in self.iter_approval_requests(status, sort_column="USER_ID"):
                if request.user_id == user_id and _covers(request, wanted):
                    return request.raw
        return None

    # ------------------------------------------------------------------ time entries

    def iter_time_entries(
        self,
        user_id: str,
        start: datetime | date | str | None = None,
        end: datetime | date | str | None = None,
        *,
        project: str | None = None,
        hydrated: bool = False,
        in_progress: bool | None = None,
        page_size: int | None = None,
    ) -> Iterator[p.TimeEntry]:
        params = {
            "start": iso(start) if start is not None else None,
            "end": iso(end) if end is not None else None,
            "project": project,
            "hydrated": _flag(hydrated),
            "in-progress": _flag(in_progress),
        }
        path = self._ws(f"/user/{user_id}/time-entries")
        yield from self._iter_pages(
            path, params=params, page_size=page_size or PAGE_SIZES["time_entries"], parse=p.TimeEntry.from_api
        )

    def get_time_entry(self, entry_id: str, *, hydrated: bool = False) -> p.TimeEntry:
        data = self.request("GET", self._ws(f"/time-entries/{entry_id}"), params={"hydrated": _flag(hydrated)})
        return p.TimeEntry.from_api(data)

    def update_time_entry(self, entry_id: str, body: dict[str, Any]) -> p.TimeEntry:
        """Full update (PUT): `body` must carry every field to keep, `start` at least."""
        return p.TimeEntry.from_api(self.request("PUT", self._ws(f"/time-entries/{entry_id}"), json=body))

    def mark_time_entries_invoiced(self, entry_ids: Iterable[str], invoiced: bool = True) -> None:
        """Mark entries invoiced (or not).

        The documented `PATCH …/time-entries/invoiced` is the one that works; a `/bulk` variant some
        clients use does not exist (docs/clockify.md#quirk-6).
        """
        ids = list(dict.fromkeys(entry_ids))
        if ids:
            self.request("PATCH", self._ws("/time-entries/invoiced"), json={"timeEntryIds": ids, "invoiced": invoiced})

    # ------------------------------------------------------------------ reports

    def iter_detailed_report(
        self,
        start: datetime | date | str,
        end: datetime | date | str,
        *,
        filters: dict[str, Any] | None = None,
        detailed_filter: dict[str, Any] | None = None,
        page_size: int | None = None,
    ) -> Iterator[p.TimeEntry]:
        """Every entry of a detailed report, paged by `detailedFilter.page/pageSize`.

        The report answers `totals[0].entriesCount`, which stops paging without an extra empty call;
        its `duration` is in seconds (docs/clockify.md#reports), which `TimeEntry` accepts.
        """
        size = page_size or PAGE_SIZES["detailed_report"]

        def body(page: int, page_size: int) -> dict[str, Any]:
            return {
                "dateRangeStart": iso(start),
                "dateRangeEnd": iso(end),
                "exportType": "JSON",
                **(filters or {}),
                "detailedFilter": {**(detailed_filter or {}), "page": page, "pageSize": page_size},
            }

        path = self._ws("/reports/detailed")
        yield from self._iter_pages(
            path,
            body=body,
            page_size=size,
            items_key="timeentries",
            total=_report_total,
            base="reports",
            parse=p.TimeEntry.from_api,
        )

    def iter_expense_report(
        self,
        start: datetime | date | str,
        end: datetime | date | str,
        *,
        filters: dict[str, Any] | None = None,
        page_size: int | None = None,
    ) -> Iterator[p.Expense]:
        """Every expense of the expense report (`…/reports/expenses/detailed`), paged by `page`/`pageSize` in
        the body; `totals.expensesCount` stops paging without an extra empty call."""

        def body(page: int, size: int) -> dict[str, Any]:
            return {
                "dateRangeStart": iso(start),
                "dateRangeEnd": iso(end),
                "exportType": "JSON",
                **(filters or {}),
                "page": page,
                "pageSize": size,
            }

        yield from self._iter_pages(
            self._ws("/reports/expenses/detailed"),
            body=body,
            page_size=page_size or PAGE_SIZES["detailed_report"],
            items_key="expenses",
            total=lambda data: p.to_int(_dict(_dict(data).get("totals")).get("expensesCount")),
            base="reports",
            parse=p.Expense.from_api,
        )

    def summary_report(
        self,
        start: datetime | date | str,
        end: datetime | date | str,
        *,
        groups: Iterable[str] = ("PROJECT",),
        filters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The summary report as Clockify returns it (`totals`, `groupOne` …); every field is optional."""
        body = {
            "dateRangeStart": iso(start),
            "dateRangeEnd": iso(end),
            "exportType": "JSON",
            **(filters or {}),
            "summaryFilter": {"groups": list(groups)},
        }
        data = self.request("POST", self._ws("/reports/summary"), base="reports", json=body, idempotent=True)
        return data if isinstance(data, dict) else {}

    # ------------------------------------------------------------------ invoices

    def iter_invoices(
        self, *, statuses: Iterable[str] | None = None, sort_column: str | None = None, sort_order: str | None = None
    ) -> Iterator[p.Invoice]:
        params = {
            # Repeated parameters (statuses=UNSENT&statuses=PAID), as the reference's example sends them.
            "statuses": list(statuses) if statuses else None,
            "sort-column": sort_column,
            "sort-order": sort_order,
        }
        path = self._ws("/invoices")
        yield from self._iter_pages(
            path,
            params=params,
            page_size=PAGE_SIZES["default"],
            items_key="invoices",
            total_key="total",
            parse=p.Invoice.from_api,
        )

    def iter_invoices_info(self, **filters: Any) -> Iterator[p.Invoice]:
        """Filtered invoice list (`POST …/invoices/info`); filters use the API's names (invoiceNumber, clients …)."""

        def body(page: int, size: int) -> dict[str, Any]:
            return {**filters, "page": page, "pageSize": size}

        yield from self._iter_pages(
            self._ws("/invoices/info"),
            body=body,
            page_size=PAGE_SIZES["default"],
            items_key="invoices",
            total_key="total",
            parse=p.Invoice.from_api,
        )

    def find_invoice_by_number(self, number: str) -> p.Invoice | None:
        for invoice in self.iter_invoices_info(invoiceNumber=number, strictSearch=True):
            if invoice.number == number:
                return invoice
        return None

    def get_invoice(self, invoice_id: str) -> p.Invoice:
        return p.Invoice.from_api(self.request("GET", self._ws(f"/invoices/{invoice_id}")))

    def create_invoice(
        self,
        *,
        client_id: str,
        currency: str,
        number: str,
        issued_date: datetime | date | str,
        due_date: datetime | date | str,
        note: str | None = None,
        subject: str | None = None,
    ) -> p.Invoice:
        """Create an invoice; never twice: an ambiguous failure is checked by looking the number up.

        Create drops `note` and `subject` (docs/clockify.md#quirk-4), so they are set with a
        follow-up update.
        """
        body = {
            "clientId": client_id,
            "currency": currency,
            "number": number,
            "issuedDate": iso(issued_date),
            "dueDate": iso(due_date),
        }

        def verify() -> dict[str, Any] | None:
            found = self.find_invoice_by_number(number)
            return found.raw if found else None

        created = self._call("POST", self._ws("/invoices"), json=body, verify=verify).data
        invoice_id = str(_dict(created).get("id") or "")
        if not invoice_id:
            raise ClockifyError("Clockify created an invoice without an id", method="POST", path=self._ws("/invoices"))
        if note is not None or subject is not None:
            changes = {k: v for k, v in (("note", note), ("subject", subject)) if v is not None}
            return self.update_invoice(invoice_id, changes)
        # Nothing to follow up with: the create answer (CreateInvoiceDtoV1) names the invoice.
        return p.Invoice.from_api(created)

    def update_invoice(self, invoice_id: str, changes: dict[str, Any]) -> p.Invoice:
        """Change some fields of an invoice, keeping the rest.

        `PUT …/invoices/{id}` replaces the whole document, and GET returns `tax`, `tax2` and `discount`
        times 100 while PUT takes `taxPercent`, `tax2Percent`, `discountPercent` as plain percents
        (docs/clockify.md#quirk-1): read, convert, then write every field.
        """
        current = _dict(self.request("GET", self._ws(f"/invoices/{invoice_id}")))
        body = invoice_put_body(current)
        body.update(changes)
        data = self.request("PUT", self._ws(f"/invoices/{invoice_id}"), json=body)
        return p.Invoice.from_api(data if isinstance(data, dict) else {**current, **changes})

    def update_invoice_status(self, invoice_id: str, status: str) -> None:
        self.request("PATCH", self._ws(f"/invoices/{invoice_id}/status"), json={"invoiceStatus": status})

    def delete_invoice(self, invoice_id: str) -> None:
        self.request("DELETE", self._ws(f"/invoices/{invoice_id}"))

    def iter_invoice_payments(self, invoice_id: str) -> Iterator[p.Payment]:
        path = self._ws(f"/invoices/{invoice_id}/payments")
        yield from self._iter_pages(path, page_size=PAGE_SIZES["default"], parse=p.Payment.from_api)

    def add_invoice_payment(
        self, invoice_id: str, amount: int, *, payment_date: datetime | date | str, note: str | None = None
    ) -> p.Payment | None:
        """Record a payment (amount in minor units) and return it.

        Clockify answers with the invoice, not the payment (docs/clockify.md#quirk-3): the
        payment is the one listed after and not before. The same difference tells whether an ambiguous
        attempt already recorded it.
        """
        before = {pay.id for pay in self.iter_invoice_payments(invoice_id)}
        body = {"amount": amount, "paymentDate": iso(payment_date), **({"note": note} if note else {})}

        def new_payment() -> Any:
            fresh = [pay for pay in self.iter_invoice_payments(invoice_id) if pay.id not in before]
            match = next((pay for pay in fresh if pay.amount == amount), None)
            return match.raw if match else None

        self._call("POST", self._ws(f"/invoices/{invoice_id}/payments"), json=body, verify=new_payment)
        found = new_payment()
        return p.Payment.from_api(found) if found else None

    def delete_invoice_payment(self, invoice_id: str, payment_id: str) -> None:
        self.request("DELETE", self._ws(f"/invoices/{invoice_id}/payments/{payment_id}"))

    def duplicate_invoice(self, invoice_id: str) -> p.Invoice:
        """Duplicate an invoice; not re-sent after an ambiguous failure (nothing identifies the copy)."""
        return p.Invoice.from_api(self.request("POST", self._ws(f"/invoices/{invoice_id}/duplicate")))

    def export_invoice(self, invoice_id: str, *, user_locale: str = "en") -> bytes:
        """The invoice as Clockify exports it (a PDF)."""
        data = self.request("GET", self._ws(f"/invoices/{invoice_id}/export"), params={"userLocale": user_locale})
        return data if isinstance(data, bytes) else str(data or "").encode()

    def get_invoice_settings(self) -> dict[str, Any]:
        return _dict(self.request("GET", self._ws("/invoices/settings")))

    def update_invoice_settings(self, body: dict[str, Any]) -> Any:
        return self.request("PUT", self._ws("/invoices/settings"), json=body)

    # ------------------------------------------------------------------ scheduling

    def iter_assignments(
        self,
        start: datetime | date | str,
        end: datetime | date | str,
        *,
        name: str | None = None,
        sort_column: str | None = None,
        sort_order: str | None = None,
    ) -> Iterator[p.Assignment]:
        params = {
            "start": iso(start),
            "end": iso(end),
            "name": name,
            "sort-column": sort_column,
            "sort-order": sort_order,
        }
        path = self._ws("/scheduling/assignments/all")
        yield from self._iter_pages(path, params=params, page_size=PAGE_SIZES["default"], parse=p.Assignment.from_api)

    def get_project_totals(
        self, project_id: str, start: datetime | date | str, end: datetime | date | str
    ) -> dict[str, Any]:
        """One project's scheduled totals: a GET (docs/clockify.md#quirk-7)."""
        path = self._ws(f"/scheduling/assignments/projects/totals/{project_id}")
        return _dict(self.request("GET", path, params={"start": iso(start), "end": iso(end)}))

    def iter_projects_totals(
        self, start: datetime | date | str, end: datetime | date | str, *, search: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every project's totals: a POST whose body ignores any projectId (quirk 7) — filter by search only."""

        def body(page: int, size: int) -> dict[str, Any]:
            return _clean({"start": iso(start), "end": iso(end), "search": search, "page": page, "pageSize": size})

        path = self._ws("/scheduling/assignments/projects/totals")
        yield from self._iter_pages(
            path, body=body, page_size=PAGE_SIZES["scheduling_totals"], items_key="", parse=_same
        )

    def iter_users_totals(
        self,
        start: datetime | date | str,
        end: datetime | date | str,
        *,
        status_filter: str = "ALL",
        filters: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Scheduled totals per user (`POST …/scheduling/assignments/user-filter/totals`, pageSize ≤ 200)."""

        def body(page: int, size: int) -> dict[str, Any]:
            return {
                **(filters or {}),
                "start": iso(start),
                "end": iso(end),
                "statusFilter": status_filter,
                "page": page,
                "pageSize": size,
            }

        path = self._ws("/scheduling/assignments/user-filter/totals")
        yield from self._iter_pages(
            path, body=body, page_size=PAGE_SIZES["scheduling_totals"], items_key="", parse=_same
        )

    def iter_user_totals(
        self, user_id: str, start: datetime | date | str, end: datetime | date | str
    ) -> Iterator[dict[str, Any]]:
        path = self._ws(f"/scheduling/assignments/users/{user_id}/totals")
        params = {"start": iso(start), "end": iso(end)}
        yield from self._iter_pages(path, params=params, page_size=PAGE_SIZES["default"], parse=_same)

    def publish_assignments(
        self,
        start: datetime | date | str,
        end: datetime | date | str,
        *,
        notify_users: bool = False,
        user_filter: dict[str, Any] | None = None,
        user_group_filter: dict[str, Any] | None = None,
        view_type: str | None = None,
        search: str | None = None,
    ) -> Any:
        """Publish every assignment in a range; there is no per-assignment publish (quirk 7). Idempotent (PUT)."""
        body = _clean(
            {
                "start": iso(start),
                "end": iso(end),
                "notifyUsers": notify_users,
                "userFilter": user_filter,
                "userGroupFilter": user_group_filter,
                "viewType": view_type,
                "search": search,
            }
        )
        return self.request("PUT", self._ws("/scheduling/assignments/publish"), json=body)

    def create_recurring_assignment(self, body: dict[str, Any]) -> list[p.Assignment]:
        """Create an assignment (optionally recurring); Clockify answers an array (quirk 7).

        An ambiguous failure is checked by listing the range for the same user, project and start.
        """
        start, end = body.get("start"), body.get("end")

        def verify() -> list[dict[str, Any]] | None:
            if not start or not end:
                return None
            want = p.parse_datetime(start)
            found = [
                a.raw
                for a in self.iter_assignments(start, end)
                if a.user_id == body.get("userId") and a.project_id == body.get("projectId") and a.start == want
            ]
            return found or None

        data = self._call("POST", self._ws("/scheduling/assignments/recurring"), json=body, verify=verify).data
        return p.parse_list(p.Assignment, data if isinstance(data, list) else [data])

    def update_recurring_assignment(self, assignment_id: str, body: dict[str, Any]) -> list[p.Assignment]:
        path = self._ws(f"/scheduling/assignments/recurring/{assignment_id}")
        data = self.request("PATCH", path, json=body)
        return p.parse_list(p.Assignment, data if isinstance(data, list) else [data])

    def delete_recurring_assignment(self, assignment_id: str, *, series_update_option: str | None = None) -> Any:
        path = self._ws(f"/scheduling/assignments/recurring/{assignment_id}")
        return self.request("DELETE", path, params=_clean({"seriesUpdateOption": series_update_option}))

    def update_assignment_series(self, assignment_id: str, *, weeks: int, repeat: bool = True) -> Any:
        path = self._ws(f"/scheduling/assignments/series/{assignment_id}")
        return self.request("PUT", path, json={"weeks": weeks, "repeat": repeat})

    def copy_assignment(
        self, assignment_id: str, user_id: str, *, series_update_option: str | None = None
    ) -> list[p.Assignment]:
        """Copy an assignment to a user; not re-sent after an ambiguous failure."""
        body = _clean({"userId": user_id, "seriesUpdateOption": series_update_option})
        data = self.request("POST", self._ws(f"/scheduling/assignments/{assignment_id}/copy"), json=body)
        return p.parse_list(p.Assignment, data if isinstance(data, list) else [data])

    # ------------------------------------------------------------------ holidays and time off

    def list_holidays(self) -> list[p.Holiday]:
        return p.parse_list(p.Holiday, self.request("GET", self._ws("/holidays")))

    def list_holidays_in_period(
        self, user_id: str, start: datetime | date | str, end: datetime | date | str
    ) -> list[p.Holiday]:
        # This endpoint takes plain dates (yyyy-mm-dd), unlike the timestamps elsewhere (API reference).
        params = {"assigned-to": user_id, "start": _day(start), "end": _day(end)}
        return p.parse_list(p.Holiday, self.request("GET", self._ws("/holidays/in-period"), params=params))

    def iter_time_off_requests(
        self,
        start: datetime | date | str | None = None,
        end: datetime | date | str | None = None,
        *,
        statuses: Iterable[str] | None = None,
        users: Iterable[str] | None = None,
        user_groups: Iterable[str] | None = None,
    ) -> Iterator[p.TimeOffRequest]:
        """Time-off requests. The listing is a POST (a GET answers 405: docs/clockify.md#quirk-10)."""

        def body(page: int, size: int) -> dict[str, Any]:
            return _clean(
                {
                    "start": iso(start) if start is not None else None,
                    "end": iso(end) if end is not None else None,
                    "statuses": list(statuses) if statuses else None,
                    "users": list(users) if users else None,
                    "userGroups": list(user_groups) if user_groups else None,
                    "page": page,
                    "pageSize": size,
                }
            )

        yield from self._iter_pages(
            self._ws("/time-off/requests"),
            body=body,
            page_size=PAGE_SIZES["time_off"],
            items_key="requests",
            total_key="count",
            parse=p.TimeOffRequest.from_api,
        )

    # ------------------------------------------------------------------ webhooks

    def list_webhooks(self, *, webhook_type: str | None = None) -> list[p.Webhook]:
        data = self.request("GET", self._ws("/webhooks"), params=_clean({"type": webhook_type}))
        return p.parse_list(p.Webhook, _dict(data).get("webhooks") if isinstance(data, dict) else data)

    def list_addon_webhooks(self, addon_id: str) -> list[p.Webhook]:
        data = self.request("GET", self._ws(f"/addons/{addon_id}/webhooks"))
        return p.parse_list(p.Webhook, _dict(data).get("webhooks") if isinstance(data, dict) else data)

    def get_webhook(self, webhook_id: str) -> p.Webhook:
        return p.Webhook.from_api(self.request("GET", self._ws(f"/webhooks/{webhook_id}")))

    def create_webhook(
        self,
        *,
        url: str,
        event: str,
        name: str | None = None,
        trigger_source_type: str = "WORKSPACE_ID",
        trigger_source: Iterable[str] | None = None,
    ) -> p.Webhook:
        """Register a webhook; an ambiguous failure is checked by url+event before re-sending."""
        body = {
            "url": url,
            "webhookEvent": event,
            "triggerSourceType": trigger_source_type,
            "triggerSource": list(trigger_source) if trigger_source is not None else [self.workspace_id],
            **({"name": name} if name else {}),
        }

        def verify() -> dict[str, Any] | None:
            found = next((w for w in self.list_webhooks() if w.url == url and w.event == event), None)
            return found.raw if found else None

        return p.Webhook.from_api(self._call("POST", self._ws("/webhooks"), json=body, verify=verify).data)

    def delete_webhook(self, webhook_id: str) -> None:
        self.request("DELETE", self._ws(f"/webhooks/{webhook_id}"))

    # ------------------------------------------------------------------ add-on settings

    def get_addon_settings(self) -> dict[str, Any]:
        """Structured add-on settings (`GET {backendUrl}/addon/workspaces/{ws}/settings`, docs/clockify.md#settings)."""
        return _dict(self.request("GET", f"/addon/workspaces/{self.workspace_id}/settings"))

    def update_addon_settings(self, values: dict[str, Any]) -> Any:
        """Set structured setting values by id; PATCH of values, so safe to retry."""
        body = [{"id": key, "value": value} for key, value in values.items()]
        return self.request("PATCH", f"/addon/workspaces/{self.workspace_id}/settings", json=body)


# ---------------------------------------------------------------------- helpers


def invoice_put_body(current: dict[str, Any]) -> dict[str, Any]:
    """A full `PUT …/invoices/{id}` body from a GET answer (docs/clockify.md#quirk-1).

    GET's `tax`, `tax2`, `discount` are percent times 100 (10% reads 1000); PUT's `…Percent` fields are plain.
    """

    def percent(key: str) -> float:
        value = current.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value / 100
        return 0.0

    body: dict[str, Any] = {
        "clientId": current.get("clientId"),
        "companyId": current.get("companyId"),
        "currency": current.get("currency"),
        "number": current.get("number"),
        "issuedDate": current.get("issuedDate"),
        "dueDate": current.get("dueDate"),
        "note": current.get("note"),
        "subject": current.get("subject"),
        "taxPercent": percent("tax"),
        "tax2Percent": percent("tax2"),
        "discountPercent": percent("discount"),
        "taxType": current.get("taxType"),
        "visibleZeroFields": current.get("visibleZeroFields"),
    }
    return {k: v for k, v in body.items() if v is not None}


def _transport_error(exc: requests.exceptions.RequestException, method: str, path: str) -> TransportError:
    """Map a requests failure; only a failed connect is certain not to have reached Clockify."""
    connect_failed = isinstance(exc, requests.exceptions.ConnectTimeout) or (
        isinstance(exc, requests.exceptions.ConnectionError) and _is_connect_failure(exc)
    )
    timeout = isinstance(exc, requests.exceptions.Timeout)
    kind = (
        "connect timeout"
        if isinstance(exc, requests.exceptions.ConnectTimeout)
        else ("read timeout" if timeout else ("connection refused" if connect_failed else "connection lost"))
    )
    return TransportError(
        f"Clockify did not answer ({kind})", method=method, path=path, maybe_applied=not connect_failed, timeout=timeout
    )


def _same(item: dict[str, Any]) -> dict[str, Any]:
    return item


def _is_connect_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NewConnectionError):
            return True
        reason = getattr(current, "reason", None) if isinstance(current, MaxRetryError) else None
        nxt = reason or (current.args[0] if current.args and isinstance(current.args[0], BaseException) else None)
        current = nxt or current.__cause__ or current.__context__
    return False


def _covers(request: p.ApprovalRequest, instant: datetime | None) -> bool:
    """Whether a request's period contains `instant` (Clockify moves a period start to the period's first day)."""
    if instant is None or request.period_start is None:
        return False
    if request.period_end is None:
        return request.period_start == instant
    return request.period_start <= instant <= request.period_end


def _decode(response: requests.Response) -> Any:
    """JSON as data, text as str, anything else (an invoice PDF) as bytes; None when empty."""
    if not response.content:
        return None
    content_type = response.headers.get("Content-Type", "").lower()
    if "json" in content_type or not content_type:
        try:
            return response.json()
        except ValueError:
            return response.text
    if content_type.startswith("text/"):
        return response.text
    return response.content


def _items(data: Any, items_key: str | None, total_key: str | None) -> tuple[list[Any], int | None]:
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict):
        items = data.get(items_key) if items_key else None
        if items is None and not items_key:
            items = next((v for v in data.values() if isinstance(v, list)), [])
        total = p.to_int(data.get(total_key)) if total_key else None
        return (items if isinstance(items, list) else []), total
    return [], None


def _repeats(previous: list[Any], items: list[Any], path: str) -> bool:
    """A full page identical to the one before: the endpoint ignores paging, and reading on would never end."""
    if previous and items and items == previous:
        log.warning("%s answered the same page twice; stopped paging", path)
        return True
    return False


def _is_last(count: int, page_size: int, seen: int, total: int | None, headers: Any) -> bool:
    if count < page_size:
        return True
    if total is not None and seen >= total:
        return True
    # Some lists are reported to carry Last-Page instead of a total (docs/clockify.md#quirk-9).
    last_page = str(headers.get("Last-Page", "")).strip().lower()
    return last_page in ("true", "1", "yes")


def _report_total(data: Any) -> int | None:
    """`totals[0].entriesCount` of a detailed report; `totals` may be `[null]` when nothing matches."""
    totals = data.get("totals") if isinstance(data, dict) else None
    first = totals[0] if isinstance(totals, list) and totals else None
    return p.to_int(first.get("entriesCount")) if isinstance(first, dict) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _day(value: datetime | date | str) -> str:
    """A calendar date as yyyy-mm-dd (a datetime's own date; a string is cut to its date part)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def _clean(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


__all__ = ["PAGE_SIZES", "BulkResult", "CallStats", "ClockifyClient", "HTTPError", "invoice_put_body", "iso"]
