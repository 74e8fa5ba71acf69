"""Publish a range and roll a week forward: checked and planned here, run as recorded jobs with the author's token.

A person's action is made with that person's token or not at all: while the author's token has expired the job
waits, and the tab hands the job a fresh one on its next poll. Items are claimed one at a time and each result
is committed before the next call, so a retry or a second worker never repeats one. A copy is recorded as soon
as Clockify made it, before it is moved to its week: a retry moves that copy instead of making another.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..clockify.client import iso
from ..clockify.errors import (
    ClockifyError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    TransportError,
    UnauthorizedError,
    refusal_text,
)
from ..crypto import DecryptionError, decrypt, encrypt, same_secret
from ..exceptions import AuthError
from ..extensions import db, utcnow
from ..platform.clients import Clients, guarded
from ..platform.installations import PAUSED, REMOVED, JobStopped, StepGuard, paused_workspace_jobs
from ..platform.models import AuditEntry, Installation
from ..tokens import TokenContext, TokenKind, Verifier
from ..workspace import totals
from .models import ScheduleJob, ScheduleJobItem, ScheduleVersion
from .plan import Plan, ScheduleError, Scope

log = logging.getLogger(__name__)

JOB_TASK = "run_schedule_job"
MAX_COPY_WEEKS = 12
MAX_ITEMS = 5000
# A stored token must be valid this much longer for a call to be made with it.
TOKEN_MARGIN_SECONDS = 15
STALL_SECONDS = 300


# --- the schedule version (what an open tab polls) ---------------------------------------------


def version_of(workspace_id: str) -> int:
    row = db.session.scalar(sa.select(ScheduleVersion.version).filter_by(workspace_id=workspace_id))
    return int(row or 0)


def bump_version(workspace_id: str) -> None:
    """Note that the schedule, tracked time or time off changed; the caller commits."""
    updated = db.session.execute(
        sa.update(ScheduleVersion)
        .where(ScheduleVersion.workspace_id == workspace_id)
        .values(version=ScheduleVersion.version + 1, changed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not getattr(updated, "rowcount", 0):
        try:
            with db.session.begin_nested():
                db.session.add(ScheduleVersion(workspace_id=workspace_id, version=1, changed_at=utcnow()))
        except IntegrityError:  # another worker inserted it first: its bump is as good as ours
            pass


# --- publish ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishPreview:
    first: date
    last: date
    user_ids: tuple[str, ...]
    assignments: int
    seconds: int
    people: int


def publish_preview(plan: Plan, first: date, last: date, user_ids: Iterable[str]) -> PublishPreview:
    """How many assignments and hours are unpublished in [first, last] for the chosen (or all shown) people."""
    if last < first:
        raise ScheduleError("The range ends before it starts.", 400)
    shown = {p.id: p for p in plan.people}
    chosen = tuple(dict.fromkeys(u for u in user_ids if u))
    if any(u not in shown for u in chosen):
        raise ScheduleError("You can only publish the schedule of people on your heatmap.", 403)
    people = chosen or tuple(shown)
    count, seconds, whom = 0, 0, set()
    for booking in plan.bookings:
        if booking.published or booking.user_id not in people or booking.end < first or booking.start > last:
            continue
        count += 1
        whom.add(booking.user_id)
        person = shown[booking.user_id]
        day = max(first, booking.start)
        while day <= min(last, booking.end):
            if day in person.days and person.days[day].capacity.base > 0:
                seconds += booking.seconds_per_day
            day += timedelta(days=1)
    return PublishPreview(first, last, chosen, count, seconds, len(whom))


def start_publish(
    workspace_id: str,
    actor: tuple[str, str | None],
    scope: Scope,
    preview: PublishPreview,
    notify: bool,
) -> ScheduleJob:
    """Record a Publish of the previewed range as a job: one PUT per week of the range."""
    if not scope.may_act:
        raise ScheduleError("Only workspace owners and admins can publish the schedule.", 403)
    if preview.assignments == 0:
        raise ScheduleError("Nothing is unpublished in that range.", 409)
    job = _new_job(
        workspace_id,
        "publish",
        actor,
        {
            "first": preview.first.isoformat(),
            "last": preview.last.isoformat(),
            "user_ids": list(preview.user_ids),
            "notify": bool(notify),
            "assignments": preview.assignments,
            "seconds": preview.seconds,
        },
    )
    week = preview.first
    while week <= preview.last:
        end = min(preview.last, week + timedelta(days=6))
        db.session.add(
            ScheduleJobItem(
                workspace_id=workspace_id,
                job_id=job.id,
                source_id=week.isoformat(),
                target_start=week,
                target_end=end,
                status="pending",
                attempts=0,
            )
        )
        week = end + timedelta(days=1)
    db.session.flush()
    return job


# --- roll forward -------------------------------------------------------------------------------


def plan_copies(
    workspace_id: str,
    actor: tuple[str, str | None],
    scope: Scope,
    plan: Plan,
    source_week: date,
    user_ids: Iterable[str],
    weeks: int,
    allow_overbooking: bool,
) -> ScheduleJob:
    """Record Copy to next weeks: each assignment starting in the source week, for each chosen person, into each of
    the next `weeks` weeks, unless an identical one is already there or it would book a day beyond capacity.

    `plan` must cover the source week and the target weeks.
    """
    if not scope.may_act:
        raise ScheduleError("Only workspace owners and admins can copy assignments.", 403)
    if not 1 <= weeks <= MAX_COPY_WEEKS:
        raise ScheduleError(f"Copy to between 1 and {MAX_COPY_WEEKS} weeks.", 400)
    shown = {p.id: p for p in plan.people}
    chosen = list(dict.fromkeys(u for u in user_ids if u))
    if not chosen:
        raise ScheduleError("Choose at least one person.", 400)
    if any(u not in shown for u in chosen):
        raise ScheduleError("You can only copy the schedule of people on your heatmap.", 403)
    source_end = source_week + timedelta(days=6)
    sources = sorted(
        (b for b in plan.bookings if b.user_id in chosen and source_week <= b.start <= source_end),
        key=lambda b: (b.user_id, b.start, b.project_id, b.id),
    )
    if not sources:
        raise ScheduleError("The chosen people have no assignments starting that week.", 409)
    existing = {(b.user_id, b.project_id, b.start, b.end, b.seconds_per_day) for b in plan.bookings}
    # Seconds this job adds per person and day, so two copies into one day are judged together.
    added: dict[tuple[str, date], int] = {}
    job = _new_job(
        workspace_id,
        "copy",
        actor,
        {
            "source_week": source_week.isoformat(),
            "weeks": weeks,
            "user_ids": chosen,
            "allow_overbooking": bool(allow_overbooking),
        },
    )
    for booking in sources:
        person = shown[booking.user_id]
        for k in range(1, weeks + 1):
            start, end = booking.start + timedelta(days=7 * k), booking.end + timedelta(days=7 * k)
            status, reason = "pending", None
            if (booking.user_id, booking.project_id, start, end, booking.seconds_per_day) in existing:
                status, reason = "skipped", "already there"
            elif not allow_overbooking:
                reason = _overbooked_day(person, start, end, booking.seconds_per_day, added)
                status = "skipped" if reason else "pending"
            if status == "pending":
                day = start
                while day <= end:
                    added[(booking.user_id, day)] = added.get((booking.user_id, day), 0) + booking.seconds_per_day
                    day += timedelta(days=1)
            db.session.add(
                ScheduleJobItem(
                    workspace_id=workspace_id,
                    job_id=job.id,
                    source_id=booking.id,
                    user_id=booking.user_id,
                    user_name=person.name,
                    project_id=booking.project_id,
                    project_name=booking.project_name or plan.projects.get(booking.project_id),
                    target_start=start,
                    target_end=end,
                    seconds_per_day=booking.seconds_per_day,
                    status=status,
                    reason=reason,
                    attempts=0,
                    finished_at=utcnow() if status == "skipped" else None,
                )
            )
    db.session.flush()
    if not _items(job, "pending"):
        finish_job(job)
    return job


def _overbooked_day(
    person: Any, start: date, end: date, seconds: int, added: dict[tuple[str, date], int]
) -> str | None:
    """The first day the copy would book beyond the person's capacity (net of holidays and time off), said."""
    day = start
    while day <= end:
        cell = person.days.get(day)
        if cell is not None and cell.capacity.base > 0:
            booked = cell.scheduled + added.get((person.id, day), 0) + seconds
            if booked > cell.capacity.net:
                return (
                    f"would book {booked / 3600:.2f} h on {day.strftime('%a')} {day.isoformat()} "
                    f"against {cell.capacity.net / 3600:.2f} h capacity"
                )
        day += timedelta(days=1)
    return None


# --- jobs ---------------------------------------------------------------------------------------


def _new_job(workspace_id: str, kind: str, actor: tuple[str, str | None], params: dict[str, Any]) -> ScheduleJob:
    job = ScheduleJob(
        workspace_id=workspace_id,
        kind=kind,
        actor_user_id=actor[0],
        actor_name=actor[1],
        params=params,
        status="queued",
    )
    db.session.add(job)
    db.session.flush()
    return job


def get_job(workspace_id: str, job_id: int) -> ScheduleJob:
    job = db.session.scalar(sa.select(ScheduleJob).filter_by(workspace_id=workspace_id, id=job_id))
    if job is None:
        raise ScheduleError("That job does not exist.", 404)
    return job


def _items(job: ScheduleJob, status: str | None = None) -> list[ScheduleJobItem]:
    query = sa.select(ScheduleJobItem).filter_by(job_id=job.id).order_by(ScheduleJobItem.id)
    if status:
        query = query.filter_by(status=status)
    return list(db.session.scalars(query))


@dataclass
class JobProgress:
    job: ScheduleJob
    total: int
    done: int
    failed: int
    skipped: int
    pending: int
    items: list[ScheduleJobItem]

    @property
    def finished(self) -> bool:
        return self.job.status == "done"

    @property
    def percent(self) -> int:
        return int(100 * (self.total - self.pending) / self.total) if self.total else 100


def job_progress(workspace_id: str, job_id: int) -> JobProgress:
    job = get_job(workspace_id, job_id)
    items = _items(job)
    return JobProgress(
        job,
        len(items),
        sum(1 for i in items if i.status == "done"),
        sum(1 for i in items if i.status == "failed"),
        sum(1 for i in items if i.status == "skipped"),
        sum(1 for i in items if i.status in ("pending", "running")),
        items,
    )


def recent_jobs(workspace_id: str, limit: int = 5) -> list[ScheduleJob]:
    query = sa.select(ScheduleJob).filter_by(workspace_id=workspace_id).order_by(ScheduleJob.id.desc())
    return list(db.session.scalars(query.limit(limit)))


def store_user_token(job: ScheduleJob, token: str | None) -> bool:
    """Keep the author's newest token on an unfinished job; True when a waiting job may now be queued again."""
    if job.status == "done" or not token:
        return False
    if job.user_token_ciphertext:
        try:
            if same_secret(decrypt(job.user_token_ciphertext), token):
                return job.status == "waiting"
        except DecryptionError:
            pass
    job.user_token_ciphertext = encrypt(token)
    return job.status == "waiting"


def finish_job(job: ScheduleJob) -> None:
    job.status = "done"
    job.finished_at = utcnow()
    job.user_token_ciphertext = None  # only needed while the job runs


def retry_failed(workspace_id: str, job_id: int, scope: Scope) -> ScheduleJob:
    """Put a finished job's failed items back; a copy already made is moved, never made again."""
    if not scope.may_act:
        raise ScheduleError("Only workspace owners and admins can retry schedule jobs.", 403)
    job = get_job(workspace_id, job_id)
    if job.status != "done":
        raise ScheduleError("This job is still running.", 409)
    failed = _items(job, "failed")
    if not failed:
        raise ScheduleError("Nothing failed; there is nothing to retry.", 409)
    for item in failed:
        item.status = "pending"
    job.status = "queued"
    job.finished_at = None
    db.session.flush()
    return job


def release_stalled(now: datetime | None = None) -> list[int]:
    """Ids of unfinished, non-waiting jobs that stopped moving (a lost worker), their claimed items released."""
    now = now or utcnow()
    found = []
    for job in db.session.scalars(sa.select(ScheduleJob).where(ScheduleJob.status.in_(("queued", "running")))):
        items = _items(job)
        moments = [i.finished_at for i in items if i.finished_at is not None] + [job.created_at]
        if (now - max(moments)).total_seconds() < STALL_SECONDS:
            continue
        for item in items:
            if item.status == "running":
                item.status = "pending"
        job.created_at = now
        found.append(job.id)
    return found


def _claim(job: ScheduleJob) -> ScheduleJobItem | None:
    while True:
        item = db.session.scalar(
            sa.select(ScheduleJobItem).filter_by(job_id=job.id, status="pending").order_by(ScheduleJobItem.id).limit(1)
        )
        if item is None:
            return None
        claimed = db.session.execute(
            sa.update(ScheduleJobItem)
            .where(ScheduleJobItem.id == item.id, ScheduleJobItem.status == "pending")
            .values(status="running")
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) == 1:
            db.session.refresh(item)
            return item


def run_schedule_job(job_id: int, clients: Clients, verifier: Verifier, *, pace: float = 0.0) -> None:
    """Background task body: make every pending call of a job with its author's token, committing after each.

    Before every call and every commit the installation is looked at again (StepGuard): paused holds the job
    until STATUS_CHANGED ACTIVE queues it again, removed ends it with no further call.
    """
    job = db.session.get(ScheduleJob, job_id)
    if job is None or job.status == "done":
        return
    installation = db.session.scalar(sa.select(Installation).filter_by(workspace_id=job.workspace_id))
    if installation is None:
        return  # removed: the job went with the workspace
    if not installation.is_active:
        job.status = PAUSED
        db.session.commit()
        return
    guard = StepGuard.of(installation)
    client = None
    item: ScheduleJobItem | None = None
    try:
        while True:
            item = None
            guard()
            db.session.refresh(job)
            if client is None:
                client = _author_client(job, installation, clients, verifier)
                if client is None:
                    job.status = "waiting"  # the tab's next poll hands over a fresh token and queues it again
                    guard.commit()
                    return
                guarded(client, guard)
            job.status = "running"
            item = _claim(job)
            guard.commit()
            if item is None:
                break
            try:
                _apply(job, item, client, guard.commit)
            except UnauthorizedError as exc:
                guard.stopped_by(exc)  # refused because Closeout was paused or removed meanwhile
                # The token expired between the check and the call: wait for a fresh one, never fall back.
                db.session.rollback()
                item.status = "pending"
                job.status = "waiting"
                guard.commit()
                return
            except ClockifyError as exc:
                guard.stopped_by(exc)
                db.session.rollback()
                _fail(job, item, error_message(exc))
            guard.commit()
            if pace:
                time.sleep(pace)
    except JobStopped as stop:
        _stopped(job, item, stop)
        return
    finally:
        if client is not None:
            client.close()
    if not _items(job, "running"):
        finish_job(job)
        bump_version(job.workspace_id)
        log.info("workspace %s: schedule job %s (%s) finished", job.workspace_id, job.id, job.kind)
    db.session.commit()


def _stopped(job: ScheduleJob, item: ScheduleJobItem | None, stop: JobStopped) -> None:
    """A step found Closeout paused (hold), removed (end: the job went with the workspace) or reinstalled."""
    db.session.rollback()
    if stop.state == REMOVED:
        log.info("workspace %s: removed; schedule job %s ends here", job.workspace_id, job.id)
        return
    try:
        if item is not None and item.status == "running":
            item.status = "pending"  # claimed but not sent (or its copy is recorded): the resumed job takes it
        if stop.paused:
            job.status = PAUSED
        else:
            for waiting in _items(job, "pending"):
                _fail(job, waiting, "Closeout was reinstalled on this workspace; start the job again.")
            finish_job(job)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()


def paused_jobs(workspace_id: str) -> list[int]:
    """The schedule jobs a pause held on this workspace, set to go on (STATUS_CHANGED ACTIVE queues them)."""
    ids = paused_workspace_jobs(ScheduleJob, workspace_id)
    for job_id in ids:
        job = db.session.get(ScheduleJob, job_id)
        if job is not None:
            job.status = "queued"
    return ids


def _apply(job: ScheduleJob, item: ScheduleJobItem, client: Any, commit: Callable[[], None]) -> None:
    item.attempts += 1
    commit()  # the attempt is on record, and no write is held open across the Clockify calls below
    if job.kind == "publish":
        user_ids = list(job.params.get("user_ids") or [])
        user_filter = {"contains": "CONTAINS", "ids": user_ids, "status": "ALL"} if user_ids else None
        last = datetime.combine(item.target_end, datetime.max.time().replace(microsecond=999000), tzinfo=UTC)
        client.publish_assignments(
            item.target_start, last, notify_users=bool(job.params.get("notify")), user_filter=user_filter
        )
        _done(job, item, "schedule.publish", None)
        return
    if item.copy_id is None:
        found, in_place = _existing_copy(client, job, item)
        item.copy_id = found
        if in_place:
            _done(job, item, "schedule.copy", "already there")
            return
    if item.copy_id is None:
        copies = client.copy_assignment(item.source_id, item.user_id, series_update_option="THIS_ONE")
        made = next((c.id for c in copies if c.id and c.id != item.source_id), None)
        if made is None:
            raise ClockifyError("Clockify answered the copy without a new assignment", method="POST")
        item.copy_id = made
        commit()  # recorded before it is moved: a retry moves this copy, never copies again
    body = {
        "start": iso(item.target_start),
        "end": iso(item.target_end),
        "hoursPerDay": item.seconds_per_day / 3600,
        "seriesUpdateOption": "THIS_ONE",
    }
    client.update_recurring_assignment(item.copy_id, body)
    _done(job, item, "schedule.copy", None)


def _existing_copy(client: Any, job: ScheduleJob, item: ScheduleJobItem) -> tuple[str | None, bool]:
    """(id, True) for an assignment already where this item would put one (an earlier attempt's, or anyone's);
    (id, False) for an earlier attempt's copy left unmoved on the source's days; (None, False) otherwise."""
    wanted = (item.user_id, item.project_id, item.target_start, item.target_end, item.seconds_per_day)
    for booking in totals.bookings_in(client, item.target_start, item.target_end):
        if (booking.user_id, booking.project_id, booking.start, booking.end, booking.seconds_per_day) == wanted:
            return booking.id, True
    if item.attempts <= 1:
        return None, False
    # An earlier attempt whose answer was lost may have left its copy on the source's days, not yet moved.
    known = {i.source_id for i in _items(job)} | {i.copy_id for i in _items(job) if i.copy_id}
    week = date.fromisoformat(str(job.params.get("source_week")))
    source = next(
        (b for b in totals.bookings_in(client, week, week + timedelta(days=6)) if b.id == item.source_id), None
    )
    if source is None:
        return None, False
    for booking in totals.bookings_in(client, source.start, source.end):
        same = (booking.user_id, booking.project_id, booking.start, booking.end) == (
            source.user_id,
            source.project_id,
            source.start,
            source.end,
        )
        if same and booking.id not in known:
            return booking.id, False  # adopt it: the caller moves it into place
    return None, False


def _done(job: ScheduleJob, item: ScheduleJobItem, action: str, reason: str | None) -> None:
    item.status = "done"
    item.reason = reason
    item.finished_at = utcnow()
    _audit(job, item, action, {"job": job.id, "reason": reason, "copy_id": item.copy_id})


def _fail(job: ScheduleJob, item: ScheduleJobItem, message: str) -> None:
    item.status = "failed"
    item.reason = message[:500]
    item.finished_at = utcnow()
    _audit(job, item, f"schedule.{job.kind}.failed", {"job": job.id, "error": item.reason})


def _audit(job: ScheduleJob, item: ScheduleJobItem, action: str, detail: dict[str, Any]) -> None:
    db.session.add(
        AuditEntry(
            workspace_id=job.workspace_id,
            actor_user_id=job.actor_user_id,
            actor_name=job.actor_name,
            action=action,
            subject_type="assignment" if job.kind == "copy" else "schedule_week",
            subject_id=item.source_id,
            detail={**detail, "target": item.target_start.isoformat(), "user": item.user_id},
        )
    )


def _author_client(job: ScheduleJob, installation: Installation, clients: Clients, verifier: Verifier) -> Any:
    """The author's client while their stored token is valid; None when it is missing, expired or not theirs."""
    if not job.user_token_ciphertext:
        return None
    try:
        token = decrypt(job.user_token_ciphertext)
        claims = verifier.verify(token, leeway=0)
    except (DecryptionError, AuthError):
        return None
    if float(claims.get("exp") or 0) - time.time() < TOKEN_MARGIN_SECONDS:
        return None
    ctx = TokenContext(
        kind=TokenKind.USER,
        claims=claims,
        token=token,
        workspace_id=claims.get("workspaceId"),
        addon_id=claims.get("addonId"),
    )
    if ctx.workspace_id != job.workspace_id or ctx.user_id != job.actor_user_id:
        return None
    return clients.for_user(ctx, installation, interactive=False)


def error_message(exc: Exception) -> str:
    """What an admin reads beside a failed call: Clockify's reason, never a trace or a token."""
    if isinstance(exc, ForbiddenError):
        return "Scheduling needs a Pro plan or higher, and only owners and admins may change the schedule."
    if isinstance(exc, NotFoundError):
        return "Clockify no longer has this assignment."
    if isinstance(exc, RateLimitedError):
        return "Clockify asked Closeout to slow down; retry in a minute."
    if isinstance(exc, TransportError):
        return "Clockify could not be reached; a retry checks first whether the copy was made."
    return refusal_text(exc, "no reason given")
