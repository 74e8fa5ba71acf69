"""ASSIGNMENT_* webhooks Closeout registers through the Webhooks API (manifest schema 1.4 cannot declare them)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, SessionTransaction

from ..clockify.errors import ClockifyError, NotFoundError
from ..extensions import db
from ..manifest import API_WEBHOOK_EVENTS, api_webhook_path
from .models import Installation, WebhookSubscription

log = logging.getLogger(__name__)

SOURCE = "api"
# How long a registration waits for another one of the same workspace before giving up (huey retries it).
LOCK_WAIT_SECONDS = 120.0


def webhook_url(base_url: str, event_type: str) -> str:
    """Where Clockify must deliver an event Closeout registered itself."""
    return base_url.rstrip("/") + api_webhook_path(event_type)


def webhook_name(event_type: str) -> str:
    # The API takes names of 2 to 30 characters (clockify-api-v1.txt "Create webhooks").
    return ("Closeout " + event_type.replace("_", " ").title())[:30]


def stored(workspace_id: str) -> dict[str, WebhookSubscription]:
    """Event type → the API-registered subscription Closeout holds for the workspace."""
    rows = db.session.scalars(sa.select(WebhookSubscription).filter_by(workspace_id=workspace_id, source=SOURCE))
    return {row.event_type: row for row in rows}


@dataclass(frozen=True)
class Registration:
    event_type: str
    webhook_id: str
    token: str
    adopted: bool  # found already registered at Clockify (e.g. a lost answer) rather than created now


def ensure_registered(
    installation: Installation, client: Any, base_url: str, events: Iterable[str] = API_WEBHOOK_EVENTS
) -> list[Registration]:
    """Register every ASSIGNMENT_* webhook that Closeout lacks or Clockify no longer has; return what changed.

    Clockify calls first, database writes last (flushed, not committed): no write transaction is held
    across a call. A webhook already at Clockify for our URL and event, with its token, is adopted
    instead of creating a second one; any further webhook of the same event in the add-on's list is a
    duplicate (a lost answer, an old base URL, a race before this lock existed) and is deleted: each
    costs the customer one of the admin's 10 webhook slots.

    One registration per workspace at a time: the first thing done is to take the workspace's
    registration lock, held until the caller's transaction ends (commit or rollback), so a second
    registration (a second worker thread, a reinstall, reconciliation) waits and then finds everything
    in place.
    """
    workspace_id = installation.workspace_id
    lock_registration(db.session(), workspace_id)
    have = {event: (row.clockify_webhook_id, row.path) for event, row in stored(workspace_id).items()}
    listed, remote = _remote_webhooks(installation, client, known_ids={wid for wid, _ in have.values() if wid})
    by_id = {hook.id: hook for hook in remote}

    changes: list[Registration] = []
    kept: dict[str, str] = {}
    for event in events:
        url = webhook_url(base_url, event)
        webhook_id, path = have.get(event, (None, None))
        current = by_id.get(webhook_id or "")
        if current is not None and current.enabled and (current.url in (None, url)) and path == url:
            kept[event] = current.id
            continue
        existing = next(
            (h for h in remote if h.event == event and h.url == url and h.enabled and h.auth_token),
            None,
        )
        if existing is not None:
            changes.append(Registration(event, existing.id, existing.auth_token or "", adopted=True))
            kept[event] = existing.id
            continue
        created = client.create_webhook(url=url, event=event, name=webhook_name(event))
        if not created.id or not created.auth_token:
            raise ClockifyError(f"Clockify registered {event} without an id or token", method="POST", path="/webhooks")
        changes.append(Registration(event, created.id, created.auth_token, adopted=False))
        kept[event] = created.id
        log.info("registered %s webhook for workspace %s", event, workspace_id)

    if changes:
        _store(workspace_id, base_url, changes)
    _remove_duplicates(client, workspace_id, listed, kept)
    return changes


def _remote_webhooks(installation: Installation, client: Any, known_ids: set[str]) -> tuple[list[Any], list[Any]]:
    """(the add-on's own webhook list, that list plus the workspace's where one of ours is missing from it)."""
    listed = list(client.list_addon_webhooks(installation.addon_id))
    hooks = list(listed)
    # Webhooks created with the installation token may be listed with the workspace's rather than the
    # add-on's (the reference does not say which); look there before declaring one of ours missing.
    if known_ids - {h.id for h in hooks}:
        seen = {h.id for h in hooks}
        hooks += [h for h in client.list_webhooks() if h.id not in seen]
    return listed, hooks


def _remove_duplicates(client: Any, workspace_id: str, listed: list[Any], kept: dict[str, str]) -> None:
    """Delete the add-on's webhooks of an event Closeout registers other than the one it keeps for it.

    Only the add-on's own list is searched (never the workspace's: those may be a person's own), and
    only the events Closeout registers itself: manifest webhooks are Clockify's to manage.
    """
    for hook in listed:
        if hook.event in kept and hook.id != kept[hook.event]:
            with contextlib.suppress(NotFoundError):  # already gone: as good
                client.delete_webhook(hook.id)
            log.info("removed a duplicate %s webhook for workspace %s", hook.event, workspace_id)


def _store(workspace_id: str, base_url: str, changes: list[Registration]) -> None:
    rows = stored(workspace_id)
    for change in changes:
        row = rows.get(change.event_type)
        if row is None:
            row = WebhookSubscription(workspace_id=workspace_id, event_type=change.event_type, source=SOURCE)
            db.session.add(row)
        row.path = webhook_url(base_url, change.event_type)
        row.clockify_webhook_id = change.webhook_id
        row.set_token(change.token)
    db.session.flush()


def registered_ids(workspace_id: str) -> list[str]:
    """Clockify ids of the webhooks Closeout registered for the workspace (read before DELETED forgets them)."""
    return [row.clockify_webhook_id for row in stored(workspace_id).values() if row.clockify_webhook_id]


def remove(client: Any, webhook_ids: Iterable[str]) -> int:
    """Delete the webhooks at Clockify, best effort: return how many went; failures are logged, never raised.

    DELETED invalidates the installation's tokens (docs/clockify.md#lifecycle), so this runs before the
    uninstall is acknowledged and gives up quietly once Clockify refuses.
    """
    removed = 0
    for webhook_id in webhook_ids:
        try:
            client.delete_webhook(webhook_id)
            removed += 1
        except NotFoundError:
            removed += 1
        except ClockifyError as exc:
            log.info("could not remove webhook %s at uninstall: %s", webhook_id, type(exc).__name__)
            if getattr(exc, "status", None) in (401, 403):
                break  # the token is no longer accepted: the rest will fail the same way
    return removed


# --- One registration per workspace at a time ---

_in_memory_lock = threading.Lock()  # an in-memory SQLite database lives in one process: one lock is enough


def lock_registration(session: Session, workspace_id: str, wait: float | None = None) -> None:
    """Take the workspace's registration lock for the rest of `session`'s current transaction.

    PostgreSQL: a transaction-scoped advisory lock (released by commit, rollback or a dropped
    connection). SQLite has none: an exclusive `flock` on a file beside the database file, one per
    workspace, released when the transaction ends (or the process dies); an in-memory database, seen
    by one process only, uses one lock in the process.
    """
    wait = LOCK_WAIT_SECONDS if wait is None else wait
    bind = session.get_bind()
    key = hashlib.sha256(b"closeout.webhook-registration:" + workspace_id.encode()).digest()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT set_config('lock_timeout', :t, true)"), {"t": f"{int(wait * 1000)}ms"})
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(key[:8], "big", signed=True)})
        return
    database = bind.engine.url.database
    if database and database != ":memory:":
        release = _file_lock(Path(database + ".locks") / f"webhooks-{key[:12].hex()}.lock", wait)
    else:
        release = _thread_lock(wait)
    _release_at_transaction_end(session, release)


def _file_lock(path: Path, wait: float) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise TimeoutError("another webhook registration of this workspace is still running") from None
            time.sleep(0.05)

    def release() -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    return release


def _thread_lock(wait: float) -> Any:
    if not _in_memory_lock.acquire(timeout=wait):
        raise TimeoutError("another webhook registration of this workspace is still running")
    return _in_memory_lock.release


def _release_at_transaction_end(session: Session, release: Any) -> None:
    outer = session.get_transaction() or session.begin()
    session.info.setdefault(_RELEASES, []).append((outer, release))


_RELEASES = "closeout.registration_locks"


@sa.event.listens_for(Session, "after_transaction_end")
def _release_locks(session: Session, transaction: SessionTransaction) -> None:
    held = session.info.get(_RELEASES)
    if not held:
        return
    session.info[_RELEASES] = [(t, release) for t, release in held if t is not transaction]
    for t, release in held:
        if t is transaction:
            release()
