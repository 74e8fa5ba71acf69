"""Operator commands (`flask --app addon …`): installations, a workspace's backlog, replays, reconciliation,
purging a workspace and rotating SECRET_KEY. Each commits what it changes before it queues anything.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask

from .crypto import key_ring
from .extensions import db
from .jobs import jobs_for
from .platform import inbox, installations, keys
from .platform.models import InboxEvent, Installation
from .queue import enqueue

BACKLOG = (inbox.PENDING, inbox.PROCESSING, inbox.FAILED)


def register(app: Flask) -> None:
    @app.cli.command("installations")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
    def list_installations(as_json: bool) -> None:
        """List installations: workspace, state, installed, backlog and dead letters."""
        counts = inbox.counts_by_workspace()
        rows = db.session.scalars(sa.select(Installation).order_by(Installation.workspace_id)).all()
        if not as_json:
            click.echo(f"{'workspace':<28} {'state':<7} {'installed':<20} {'backlog':>8} {'dead':>6}")
        for row in rows:
            mine = counts.get(row.workspace_id, dict.fromkeys(inbox.STATUSES, 0))
            record: dict[str, Any] = {
                "workspace_id": row.workspace_id,
                "state": "active" if row.is_active else "paused",
                "installed_at": row.installed_at.isoformat(timespec="seconds"),
                "backlog": sum(mine[s] for s in BACKLOG),
                "dead": mine[inbox.DEAD],
            }
            if as_json:
                click.echo(json.dumps(record))
            else:
                click.echo(
                    f"{record['workspace_id']:<28} {record['state']:<7} {record['installed_at'][:19]:<20} "
                    f"{record['backlog']:>8} {record['dead']:>6}"
                )
        if not as_json:
            click.echo(f"{len(rows)} installations")

    @app.cli.command("backlog")
    @click.argument("workspace_id")
    @click.option("--limit", default=20, show_default=True, help="Dead letters to list.")
    def backlog(workspace_id: str, limit: int) -> None:
        """Show a workspace's inbox by status, its oldest unprocessed event and its dead letters."""
        _installed(workspace_id, allow_missing=True)
        counts = inbox.counts(workspace_id)
        click.echo("inbox: " + ", ".join(f"{status} {n}" for status, n in counts.items()))
        oldest = db.session.scalar(
            sa.select(sa.func.min(InboxEvent.received_at)).where(
                InboxEvent.workspace_id == workspace_id, InboxEvent.status.in_(BACKLOG)
            )
        )
        if oldest is not None:
            age = (datetime.now(UTC) - oldest.astimezone(UTC)).total_seconds()
            click.echo(f"oldest unprocessed: {oldest.isoformat(timespec='seconds')} ({age:.0f}s ago)")
        dead = inbox.dead_letters(workspace_id, limit=limit)
        click.echo(f"dead letters: {counts[inbox.DEAD]}" + (f" (newest {len(dead)})" if dead else ""))
        for event in dead:
            click.echo(
                f"  #{event.id} {event.event_type} attempts {event.attempts} "
                f"received {event.received_at.isoformat(timespec='seconds')}: {event.last_error or ''}"
            )

    @app.cli.command("replay-dead")
    @click.argument("workspace_id")
    @click.option("--id", "ids", multiple=True, type=int, help="Only these dead letters (repeatable).")
    def replay_dead(workspace_id: str, ids: tuple[int, ...]) -> None:
        """Send a workspace's dead letters (all, or --id) back to the queue with fresh attempts."""
        _installed(workspace_id)
        wanted = list(ids) or [event.id for event in inbox.dead_letters(workspace_id, limit=10_000)]
        replayed = [inbox_id for inbox_id in wanted if inbox.retry_dead(workspace_id, inbox_id)]
        db.session.commit()
        queued = sum(1 for inbox_id in replayed if enqueue(app, "process_inbox_event", inbox_id))
        missing = sorted(set(wanted) - set(replayed))
        click.echo(f"replayed {len(replayed)} dead letters, {queued} queued (the sweep queues the rest)")
        if missing:
            click.echo(f"not dead letters of {workspace_id}: {', '.join(map(str, missing))}")

    @app.cli.command("reconcile")
    @click.argument("workspace_id", required=False)
    @click.option("--all", "everyone", is_flag=True, help="Every active installation.")
    @click.option("--queue", "queued", is_flag=True, help="Queue it for the workers instead of running it here.")
    def reconcile_now(workspace_id: str | None, everyone: bool, queued: bool) -> None:
        """Run reconciliation now for one workspace (or --all): webhooks re-registered, capabilities re-read."""
        if bool(workspace_id) == everyone:
            raise click.UsageError("name one WORKSPACE_ID or pass --all")
        targets = [i.workspace_id for i in installations.active_installations()] if everyone else [workspace_id]
        db.session.remove()
        jobs = jobs_for(app)
        for target in targets:
            assert target is not None
            if queued:
                ok = enqueue(app, "reconcile_installation", target)
                click.echo(f"{target}: {'queued' if ok else 'queue unavailable'}")
                continue
            _installed(target)
            db.session.remove()
            result = jobs.reconcile_installation.call_local(target)
            click.echo(f"{target}: " + (", ".join(f"{k} {v}" for k, v in result.items()) or "nothing to do"))

    @app.cli.command("purge")
    @click.argument("workspace_id")
    @click.option("--yes", is_flag=True, help="Confirm: every row of the workspace is deleted.")
    def purge(workspace_id: str, yes: bool) -> None:
        """Delete everything Closeout stores for a workspace, as DELETED does (installation included)."""
        if not yes:
            raise click.UsageError(f"this deletes every row of {workspace_id}; pass --yes to confirm")
        installation = installations.find(workspace_id)
        removed = installations.uninstall(workspace_id, installation.addon_id if installation else None)
        db.session.commit()
        click.echo(f"purged {workspace_id}: {removed} rows removed")

    @app.cli.command("rotate-key")
    @click.option("--check", is_flag=True, help="Only count what the current SECRET_KEY alone cannot open yet.")
    @click.option("--batch", default=500, show_default=True, help="Rows per transaction.")
    def rotate_key(check: bool, batch: int) -> None:
        """Re-encrypt every stored token with SECRET_KEY (old keys in SECRET_KEY_FALLBACKS), without downtime."""
        ring = key_ring()
        if check:
            left = keys.pending(ring, batch=batch)
            for column, n in sorted(left.items()):
                click.echo(f"{column}: {n} not yet on the current key")
            click.echo(f"{sum(left.values())} values still need rotation")
            raise SystemExit(1 if left else 0)
        resealed, unreadable = keys.rotate(ring, batch=batch)
        for column in sorted({*resealed, *unreadable}):
            click.echo(f"{column}: {resealed[column]} re-encrypted, {unreadable[column]} unreadable")
        click.echo(f"re-encrypted {sum(resealed.values())} values with the current SECRET_KEY")
        if unreadable:
            click.echo(
                f"{sum(unreadable.values())} values open with no key of the ring: add the key they were sealed with"
            )
            raise SystemExit(1)


def _installed(workspace_id: str, allow_missing: bool = False) -> Installation | None:
    installation = installations.find(workspace_id)
    if installation is None and not allow_missing:
        raise click.ClickException(f"no installation for workspace {workspace_id}")
    return installation
