"""What Clockify says about formats, zones and the workspace (user settings, workspace info, groups, clients), cached.

Every surface renders dates, hours and money the viewing user's way, so this is read on nearly every page load.
Reads go to `preference_cache` first and reach Clockify only when a row is older than its TTL: opening a page
costs at most one `GET /v1/user` and one `GET /v1/workspaces/{id}` per TTL, never a burst per render. When
Clockify cannot answer, the last known value (or the defaults) is used: formatting never breaks a page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from ..clockify import ClockifyClient, ClockifyError
from ..extensions import db, utcnow
from ..formatting import DATE_FORMATS, Preferences, zone_or_utc
from ..platform.clients import Clients
from ..platform.models import Installation
from ..tokens import TokenContext
from .models import PreferenceCache
from .periods import KINDS, WEEKDAYS, kind_of_request, request_days

log = logging.getLogger(__name__)

TTL = {
    "user": timedelta(minutes=15),
    "workspace": timedelta(minutes=30),
    "groups": timedelta(minutes=10),
    "clients": timedelta(minutes=10),
}

ClientFactory = Callable[[], ClockifyClient]


def shared(client: ClockifyClient) -> ClientFactory:
    """A factory handing out a client someone else owns (and closes): used by jobs that already hold one."""

    def factory() -> ClockifyClient:
        return client

    factory.shared = True  # type: ignore[attr-defined]
    return factory


@contextmanager
def _using(factory: ClientFactory) -> Iterator[ClockifyClient]:
    client = factory()
    try:
        yield client
    finally:
        if not getattr(factory, "shared", False):
            client.close()


@dataclass(frozen=True)
class WorkspaceInfo:
    """The workspace-level facts Closeout shows and computes with (read from Clockify)."""

    name: str | None = None
    currency: str = "USD"
    duration_format: str = "COMPACT"
    number_format: str = "COMMA_PERIOD"
    currency_format: str = "CURRENCY_SPACE_VALUE"
    time_zone: str = "UTC"
    approval_period: str = "WEEKLY"
    week_start: str = "MONDAY"
    # Where each read-only fact came from, shown beside it on the settings page.
    period_source: str = "default"


# --- the cache ----------------------------------------------------------------------------------


def _read(workspace_id: str, scope: str) -> PreferenceCache | None:
    return db.session.scalar(sa.select(PreferenceCache).filter_by(workspace_id=workspace_id, scope=scope))


def _write(workspace_id: str, scope: str, value: Any, now: datetime) -> None:
    """Store in a connection of its own: a cache row must not wait for (or be rolled back with) the view's work."""
    table = PreferenceCache.__table__
    try:
        with db.engine.begin() as conn:
            updated = conn.execute(
                table.update()
                .where(table.c.workspace_id == workspace_id, table.c.scope == scope)
                .values(value=value, fetched_at=now)
            )
            if not updated.rowcount:
                conn.execute(table.insert().values(workspace_id=workspace_id, scope=scope, value=value, fetched_at=now))
    except SQLAlchemyError:
        # Two renders filling the same row at once, or a busy SQLite file: the value is still used this time.
        log.info("workspace %s: cache %s not stored this time", workspace_id, scope.split(":")[0])


def note_read(workspace_id: str, scope: str, value: Any = None, now: datetime | None = None) -> None:
    """Remember that `scope` was read from Clockify now (call after the view's own commit)."""
    _write(workspace_id, scope, value, now or utcnow())


def last_read(workspace_id: str, scope: str) -> datetime | None:
    """When `scope` was last read from Clockify (None: never)."""
    row = _read(workspace_id, scope)
    return row.fetched_at if row is not None else None


def cached(
    workspace_id: str,
    scope: str,
    fetch: Callable[[], Any],
    *,
    now: datetime | None = None,
    force: bool = False,
) -> Any | None:
    """The cached value of `scope`, fetched again when older than its TTL; the stale value if Clockify fails."""
    now = now or utcnow()
    ttl = TTL[scope.split(":", 1)[0]]
    row = _read(workspace_id, scope)
    if row is not None and not force and now - row.fetched_at < ttl:
        return row.value
    stale = row.value if row is not None else None
    try:
        value = fetch()
    except (ClockifyError, ValueError) as exc:
        log.warning("workspace %s: could not refresh %s: %s", workspace_id, scope.split(":")[0], type(exc).__name__)
        return stale
    _write(workspace_id, scope, value, now)
    return value


# --- reading Clockify ---------------------------------------------------------------------------


def _fetch_user(factory: ClientFactory) -> dict[str, Any]:
    with _using(factory) as client:
        user = client.get_current_user()
    found = user.raw.get("settings")
    settings: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        "id": user.id,
        "name": user.name,
        "timeZone": settings.get("timeZone"),
        "dateFormat": settings.get("dateFormat"),
        "timeFormat": settings.get("timeFormat"),
        "weekStart": settings.get("weekStart"),
    }


def _fetch_workspace(factory: ClientFactory) -> dict[str, Any]:
    with _using(factory) as client:
        workspace = client.get_workspace()
        settings = workspace.settings
        period = settings.get("approvalPeriod")
        week_start = settings.get("weekStart")
        source = "workspace" if period else "default"
        if not period:
            # Clockify's documented workspace info has no approval period; a recent request's range shows it.
            period, inferred_week_start = _period_from_requests(client)
            week_start = week_start or inferred_week_start
            source = "requests" if period else "default"
    return {
        "name": workspace.name,
        "currency": workspace.currency,
        "durationFormat": settings.get("durationFormat"),
        "numberFormat": settings.get("numberFormat"),
        "currencyFormat": settings.get("currencyFormat"),
        "timeZone": settings.get("timeZone") or settings.get("lockTimeZone"),
        "approvalPeriod": period,
        "weekStart": week_start,
        "periodSource": source,
    }


def _period_from_requests(client: ClockifyClient) -> tuple[str | None, str | None]:
    for status in ("APPROVED", "PENDING"):
        for request in client.iter_approval_requests(status, page_size=5):
            if request.period_start:
                return kind_of_request(*request_days(request.period_start, request.period_end, request.owner_time_zone))
            break
    return None, None


def _fetch_named(factory: ClientFactory, what: str) -> list[list[str]]:
    with _using(factory) as client:
        if what == "groups":
            items = [(g.id, g.name or g.id) for g in client.iter_user_groups()]
        else:
            items = [(c.id, c.name or c.id) for c in client.iter_clients(archived=False)]
    return [[i, n] for i, n in sorted(items, key=lambda pair: pair[1].lower()) if i]


# --- what callers use ---------------------------------------------------------------------------


def workspace_info(workspace_id: str, client_factory: ClientFactory, *, force: bool = False) -> WorkspaceInfo:
    """The workspace's currency, formats, approval period, week start and time zone (defaults when unknown)."""
    raw = cached(workspace_id, "workspace", lambda: _fetch_workspace(client_factory), force=force) or {}
    default = WorkspaceInfo()
    period = str(raw.get("approvalPeriod") or "").upper()
    week_start = str(raw.get("weekStart") or "").upper()
    return WorkspaceInfo(
        name=raw.get("name"),
        currency=_code(raw.get("currency")) or default.currency,
        duration_format=_one_of(raw.get("durationFormat"), ("FULL", "COMPACT", "DECIMAL"), default.duration_format),
        number_format=str(raw.get("numberFormat") or default.number_format),
        currency_format=str(raw.get("currencyFormat") or default.currency_format),
        time_zone=_zone(raw.get("timeZone")) or default.time_zone,
        approval_period=period if period in KINDS else default.approval_period,
        week_start=week_start if week_start in WEEKDAYS else default.week_start,
        period_source=str(raw.get("periodSource") or "default") if period in KINDS else "default",
    )


def user_preferences(
    workspace_id: str,
    user_id: str | None,
    *,
    user_client: ClientFactory,
    workspace_client: ClientFactory,
) -> Preferences:
    """How `user_id` sees dates, hours and money in this workspace (their settings over the workspace's)."""
    info = workspace_info(workspace_id, workspace_client)
    user: Mapping[str, Any] = {}
    if user_id:
        user = cached(workspace_id, f"user:{user_id}", lambda: _fetch_user(user_client)) or {}
    return Preferences(
        time_zone=_zone(user.get("timeZone")) or info.time_zone,
        date_format=_one_of(user.get("dateFormat"), tuple(DATE_FORMATS), "YYYY-MM-DD"),
        time_format=_one_of(user.get("timeFormat"), ("HOUR12", "HOUR24"), "HOUR24"),
        week_start=_one_of(str(user.get("weekStart") or "").upper(), WEEKDAYS, info.week_start),
        duration_format=info.duration_format,
        number_format=info.number_format,
        currency_format=info.currency_format,
        currency=info.currency,
        user_name=user.get("name") if isinstance(user.get("name"), str) else None,
    )


def for_request(ctx: TokenContext, installation: Installation, clients: Clients) -> Preferences:
    """Preferences for a verified user token: the one call a view makes before rendering."""
    return user_preferences(
        installation.workspace_id,
        ctx.user_id,
        user_client=lambda: clients.for_user(ctx, installation),
        workspace_client=lambda: clients.for_installation(installation, interactive=True),
    )


def workspace_groups(workspace_id: str, client_factory: ClientFactory) -> list[tuple[str, str]] | None:
    """(id, name) of the workspace's user groups, or None when Clockify cannot list them."""
    return _pairs(cached(workspace_id, "groups", lambda: _fetch_named(client_factory, "groups")))


def workspace_clients(workspace_id: str, client_factory: ClientFactory) -> list[tuple[str, str]] | None:
    """(id, name) of the workspace's active clients, or None when Clockify cannot list them."""
    return _pairs(cached(workspace_id, "clients", lambda: _fetch_named(client_factory, "clients")))


def _pairs(value: Any) -> list[tuple[str, str]] | None:
    if not isinstance(value, list):
        return None
    return [(str(a), str(b)) for a, b in (v for v in value if isinstance(v, list | tuple) and len(v) == 2)]


def _code(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and len(value) == 3 and value.isalpha() else None


def _zone(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value if zone_or_utc(value).key == value else None


def _one_of(value: Any, allowed: tuple[str, ...], default: str) -> str:
    return value if isinstance(value, str) and value in allowed else default
