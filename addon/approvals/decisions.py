"""Decisions on approval requests and submissions on behalf: checked, queued as a job, made one by one, audited."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from ..clockify.errors import (
    ClockifyError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    TransportError,
    UnauthorizedError,
    refusal_text,
)
from ..clockify.payloads import raw_of
from ..crypto import DecryptionError, decrypt, encrypt, same_secret
from ..exceptions import ApprovalError, AuthError
from ..extensions import db, utcnow
from ..platform import audit
from ..platform.clients import Clients, guarded
from ..platform.installations import PAUSED, REMOVED, JobStopped, StepGuard, paused_workspace_jobs
from ..platform.models import AuditEntry, Installation
from ..tokens import Role, TokenContext, TokenKind, Verifier, check_kind, context, role_from_claim
from ..workspace.directory import Directory, cache_key_for, load_directory
from ..workspace.periods import Period
from . import mirror
from .mirror import NOTE_MAX, RequestData, parse_request, record_request
from .models import ApprovalRequestRecord, DecisionItem, DecisionJob
from .queue import Scope, Viewer, scope_for

log = logging.getLogger(__name__)

# The state each decision sets, and the state a request must be in for it (Clockify's approval flow:
# only a pending request is approved or rejected; only an approved one has its approval withdrawn).
# The name of the worker task that runs a decision job (see jobs.py).
DECISION_TASK = "run_decision_job"
TARGET_STATE = {"approve": "APPROVED", "reject": "REJECTED", "withdraw": "WITHDRAWN_APPROVAL"}


REQUIRED_STATE = {"approve": "PENDING", "reject": "PENDING", "withdraw": "APPROVED"}


def clean_note(note: Any) -> str:
    return str(note or "").strip()[:NOTE_MAX]


def start_decisions(
    workspace_id: str,
    viewer: Viewer,
    scope: Scope,
    action: str,
    request_ids: Iterable[str],
    note: Any,
) -> DecisionJob:
    """Check a decision on many requests and queue it; the job runs in the background."""
    if action not in TARGET_STATE:
        raise ApprovalError("Unknown decision.", 400)
    # Withdrawing someone's approval overrides a decision already made: owners and admins only.
    if action == "withdraw" and not scope.can_decide_all:
        raise ApprovalError("Only workspace owners and admins can withdraw an approval.", 403)
    text = clean_note(note)
    if action == "reject" and not text:
        raise ApprovalError("Write a note saying why before rejecting.")
    ids = list(dict.fromkeys(i for i in request_ids if isinstance(i, str) and i))[:5000]
    if not ids:
        raise ApprovalError("Select at least one request.")
    records = {
        r.clockify_id: r
        for r in db.session.scalars(
            sa.select(ApprovalRequestRecord).where(
                ApprovalRequestRecord.workspace_id == workspace_id, ApprovalRequestRecord.clockify_id.in_(ids)
            )
        )
    }
    # Unknown ids and requests of people outside the viewer's teams are refused alike, so a crafted
    # call learns nothing about which ids exist.
    refused = [i for i in ids if i not in records or not scope.may_decide(records[i].user_id)]
    if refused:
        raise ApprovalError("You can only decide requests of people you manage.", 403)
    # A selection may hold requests decided since the page was drawn (or "all" ticked over decided rows):
    # the rest are decided and these reported as skipped, each with its reason. Only when none is left
    # is the whole decision refused.
    wrong_state = [records[i] for i in ids if records[i].state != REQUIRED_STATE[action]]
    if len(wrong_state) == len(ids):
        names = ", ".join(sorted({r.user_name or r.user_id for r in wrong_state})[:5])
        raise ApprovalError(
            f"{len(wrong_state)} selected request(s) are not {REQUIRED_STATE[action].lower()} ({names}); "
            "refresh and select again."
        )
    job = DecisionJob(
        workspace_id=workspace_id,
        actor_user_id=viewer.user_id,
        actor_name=viewer.name,
        action=action,
        note=text or None,
        status="queued",
    )
    db.session.add(job)
    db.session.flush()
    for request_id in ids:
        record = records[request_id]
        skip = skip_reason(record.state, action)
        db.session.add(
            DecisionItem(
                workspace_id=workspace_id,
                job_id=job.id,
                subject_id=request_id,
                subject_name=record.user_name or record.user_id,
                status="skipped" if skip else "pending",
                error=skip,
                attempts=0,
                finished_at=utcnow() if skip else None,
            )
        )
    db.session.flush()
    return job


def skip_reason(state: str, action: str) -> str | None:
    """Why a request in `state` is left out of an `action` (None: it is decided)."""
    if state == REQUIRED_STATE[action]:
        return None
    return f"Not {_state_label(REQUIRED_STATE[action])}: it is {_state_label(state)}."


def _state_label(state: str) -> str:
    return state.replace("_", " ").lower()


def start_submissions(
    workspace_id: str, viewer: Viewer, scope: Scope, period: Period, user_ids: Iterable[str], directory: Directory
) -> DecisionJob:
    """Queue "submit on behalf" for users who have not submitted the period."""
    ids = list(dict.fromkeys(i for i in user_ids if isinstance(i, str) and i))[:5000]
    if not ids:
        raise ApprovalError("Select at least one person.")
    if any(not scope.may_decide(u) or u not in directory.users for u in ids):
        raise ApprovalError("You can only submit for people you manage.", 403)
    job = DecisionJob(
        workspace_id=workspace_id,
        actor_user_id=viewer.user_id,
        actor_name=viewer.name,
        action="submit",
        period_start=period.start,
        period_kind=period.kind,
        status="queued",
    )
    db.session.add(job)
    db.session.flush()
    for user_id in ids:
        db.session.add(
            DecisionItem(
                workspace_id=workspace_id,
                job_id=job.id,
                subject_id=user_id,
                subject_name=directory.name(user_id) or user_id,
                status="pending",
                attempts=0,
            )
        )
    db.session.flush()
    return job


def retry_failed(workspace_id: str, job_id: int, viewer: Viewer, scope: Scope) -> DecisionJob:
    """Put a job's failed items back in the queue (its decider or an admin may)."""
    job = get_job(workspace_id, job_id)
    if not scope.can_decide_all and job.actor_user_id != viewer.user_id:
        raise ApprovalError("You can only retry your own decisions.", 403)
    if job.status != "done":
        raise ApprovalError("This job is still running.", 409)
    failed = _items(job, "failed")
    if not failed:
        raise ApprovalError("Nothing failed; there is nothing to retry.", 409)
    if not scope.can_decide_all and not all(scope.may_decide(u) for u in _subject_users(workspace_id, job, failed)):
        # Teams change: a manager may no longer manage someone a failed item was about.
        raise ApprovalError("You can only retry decisions about people you manage.", 403)
    for item in failed:
        item.status = "pending"
        item.error = None
    job.status = "queued"
    job.finished_at = None
    db.session.flush()
    return job


def _subject_users(workspace_id: str, job: DecisionJob, items: list[DecisionItem]) -> list[str]:
    """Whose timesheets the items are about: the users themselves for submissions, else the requests' owners."""
    subjects = [item.subject_id for item in items]
    if job.action == "submit":
        return list(subjects)
    owners = dict(
        db.session.execute(
            sa.select(ApprovalRequestRecord.clockify_id, ApprovalRequestRecord.user_id).where(
                ApprovalRequestRecord.workspace_id == workspace_id, ApprovalRequestRecord.clockify_id.in_(subjects)
            )
        ).tuples()
    )
    return [owners.get(subject) or "" for subject in subjects]


def get_job(workspace_id: str, job_id: int) -> DecisionJob:
    job = db.session.scalar(sa.select(DecisionJob).filter_by(workspace_id=workspace_id, id=job_id))
    if job is None:
        raise ApprovalError("That decision job does not exist.", 404)
    return job


def _items(job: DecisionJob, status: str | None = None) -> list[DecisionItem]:
    query = sa.select(DecisionItem).filter_by(job_id=job.id).order_by(DecisionItem.id)
    if status:
        query = query.filter_by(status=status)
    return list(db.session.scalars(query))


@dataclass
class JobProgress:
    job: DecisionJob
    total: int
    done: int
    failed: int
    pending: int
    failures: list[DecisionItem]
    skips: list[DecisionItem] = field(default_factory=list)  # left out when the job started, with why

    @property
    def finished(self) -> bool:
        return self.job.status == "done"

    @property
    def skipped(self) -> int:
        return len(self.skips)

    @property
    def percent(self) -> int:
        return int(100 * (self.done + self.failed + self.skipped) / self.total) if self.total else 100


def job_progress(workspace_id: str, job_id: int) -> JobProgress:
    job = get_job(workspace_id, job_id)
    items = _items(job)
    return JobProgress(
        job=job,
        total=len(items),
        done=sum(1 for i in items if i.status == "done"),
        failed=sum(1 for i in items if i.status == "failed"),
        pending=sum(1 for i in items if i.status in ("pending", "running")),
        failures=[i for i in items if i.status == "failed"],
        skips=[i for i in items if i.status == "skipped"],
    )


# A job with no progress for this long lost its worker (a restart drops huey's in-flight task).
STALL_SECONDS = 300


def release_if_stalled(job: DecisionJob, now: datetime | None = None) -> bool:
    """Give a stalled job's claimed items back and say it must be queued again (False: it is moving).

    A job held for a fresh token or by a pause is not stalled: it waits for that, not for a worker.
    """
    if job.status == "done" or job.status in HELD:
        return False
    items = _items(job)
    moments = [i.finished_at for i in items if i.finished_at is not None] + [job.created_at]
    if ((now or utcnow()) - max(moments)).total_seconds() < STALL_SECONDS:
        return False
    for item in items:
        if item.status == "running":
            item.status = "pending"
    job.created_at = now or utcnow()  # restarts the stall clock so one poll re-queues it once
    return True


def resume_if_stalled(job: DecisionJob, now: datetime | None = None) -> bool:
    """Release a stalled job's items; True when the caller must queue DECISION_TASK for it again (after commit)."""
    if not release_if_stalled(job, now):
        return False
    log.warning("decision job %s of %s stalled; queued again", job.id, job.workspace_id)
    return True


def release_stalled_jobs(now: datetime | None = None) -> list[int]:
    """Ids of the unfinished decision jobs to queue again: those that stopped moving (their claimed items
    released) and those paused on a workspace that is active again."""
    unfinished = db.session.scalars(
        sa.select(DecisionJob).where(DecisionJob.status != "done").order_by(DecisionJob.id)
    ).all()
    resumed = []
    for job in unfinished:
        if job.status == PAUSED:
            installation = _installation_of(job)
            if installation is not None and installation.is_active:
                job.status = "queued"
                resumed.append(job.id)
        elif resume_if_stalled(job, now):
            resumed.append(job.id)
    return resumed


def next_item(job: DecisionJob) -> DecisionItem | None:
    """Claim the job's next pending item (atomically: two runs of one job never decide an item twice)."""
    while True:
        item = db.session.scalar(
            sa.select(DecisionItem).filter_by(job_id=job.id, status="pending").order_by(DecisionItem.id).limit(1)
        )
        if item is None:
            return None
        claimed = db.session.execute(
            sa.update(DecisionItem)
            .where(DecisionItem.id == item.id, DecisionItem.status == "pending")
            .values(status="running")
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) == 1:
            db.session.refresh(item)
            return item


def apply_item(job: DecisionJob, item: DecisionItem, client: Any, acted_as: str) -> None:
    """Make one decision (or submission) in Clockify and record its result, mirror row and audit entry.

    Raises the client's errors; the caller records them on the item with `fail_item`.
    """
    item.attempts += 1
    if job.action == "submit":
        assert job.period_start is not None
        period_start = datetime.combine(job.period_start, datetime.min.time(), tzinfo=UTC)
        response = client.submit_approval_request_for_user(
            item.subject_id, period=job.period_kind or "WEEKLY", period_start=period_start
        )
    else:
        note = job.note
        response = client.update_approval_request(item.subject_id, state=TARGET_STATE[job.action], note=note)
    # Clockify's answer is the request as it now is (a typed payload: its raw body is what parses).
    data = parse_request(raw_of(response))
    if data is not None:
        record_request(job.workspace_id, data)
    item.status = "done"
    item.error = None
    item.acted_as = acted_as
    item.finished_at = utcnow()
    _audit(
        job,
        item,
        f"approval.{job.action}",
        {
            "note": job.note,
            "job": job.id,
            "acted_as": acted_as,
            "subject_name": item.subject_name,
            "state": data.state if data else None,
        },
    )


def fail_item(job: DecisionJob, item: DecisionItem, message: str) -> None:
    item.status = "failed"
    item.error = message[:500]
    item.finished_at = utcnow()
    _audit(job, item, f"approval.{job.action}.failed", {"error": item.error, "job": job.id})


def _audit(job: DecisionJob, item: DecisionItem, action: str, detail: dict[str, Any]) -> None:
    """One audit entry for one item of a decision job, in the decider's name."""
    subject_type = "user" if job.action == "submit" else "approval_request"
    audit.record(
        job.workspace_id, audit.Actor(job.actor_user_id, job.actor_name), action, subject_type, item.subject_id, detail
    )


def finish_job(job: DecisionJob) -> None:
    job.status = "done"
    job.finished_at = utcnow()
    # The decider's token is only needed while the job runs.
    job.user_token_ciphertext = None


def recent_jobs(workspace_id: str, viewer: Viewer, scope: Scope, limit: int = 5) -> list[DecisionJob]:
    """The latest decision jobs: all of them for admins, one's own for everyone else."""
    query = sa.select(DecisionJob).filter_by(workspace_id=workspace_id)
    if not scope.can_decide_all:
        query = query.filter_by(actor_user_id=viewer.user_id)
    return list(db.session.scalars(query.order_by(DecisionJob.id.desc()).limit(limit)))


def audit_log(workspace_id: str, viewer: Viewer, scope: Scope, limit: int = 30) -> list[AuditEntry]:
    """Approval decisions made through Closeout, newest first: admins see all, others their own."""
    mine = None if scope.can_decide_all else viewer.user_id
    return audit.entries(workspace_id, "approval.", actor_user_id=mine, limit=limit)


# Seconds a user token must still be valid for a decision to be made with it. The route that starts a
# decision and the job that makes it judge by this same rule (no leeway), so a token the job would
# refuse is refused at the route, where the person can be told.
TOKEN_MARGIN_SECONDS = 15

# A job's status while it cannot go on: the decider's token lapsed (it resumes when their tab hands over
# a fresh one), or Closeout is paused on the workspace (it resumes when the installation is active again).
WAITING = "waiting"
HELD = (WAITING, PAUSED)


def token_is_fresh(claims: dict[str, Any], now: float | None = None) -> bool:
    """Whether a user token may still decide: an expiry at least TOKEN_MARGIN_SECONDS away (or a quarter
    of the token's lifetime, for tokens that live less than a minute)."""
    exp, iat = _number(claims.get("exp")), _number(claims.get("iat"))
    if exp is None:
        return False
    margin = float(TOKEN_MARGIN_SECONDS)
    if iat is not None and exp > iat:
        margin = min(margin, (exp - iat) / 4)
    return exp - (time.time() if now is None else now) >= margin


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def require_fresh_token(ctx: TokenContext) -> None:
    """Refuse to start a decision with a token the job could not decide with."""
    if not token_is_fresh(ctx.claims):
        raise AuthError("Your Clockify session has expired. Reload the tab, then decide again.", status=401)


def store_user_token(job: DecisionJob, ctx: TokenContext) -> bool:
    """Keep the decider's newest token on an unfinished job (the tab sends a fresh one on every poll).

    Returns True when a job that was waiting for a fresh token can go on: the caller queues it after commit.
    """
    if job.status == "done" or not ctx.token or ctx.user_id != job.actor_user_id or not token_is_fresh(ctx.claims):
        return False
    # The tab polls every second: write only when the token really changed (about every 30 minutes).
    unchanged = False
    if job.user_token_ciphertext:
        with contextlib.suppress(DecryptionError):
            unchanged = same_secret(decrypt(job.user_token_ciphertext), ctx.token)
    if not unchanged:
        job.user_token_ciphertext = encrypt(ctx.token)
    if job.status == WAITING:
        job.status = "queued"
        return True
    return False


def run_decision_job(job_id: int, clients: Clients, verifier: Verifier, *, pace: float = 0.0) -> None:
    """Background task body: decide every pending item of a job, committing after each so the tab sees progress.

    Every decision is made with the decider's own token, so Clockify records the real approver; there is
    no fallback to the installation token. When the token lapses the job waits (the tab says so) until
    the decider's tab hands over a fresh one. Before deciding, each request's owner and state are read
    from Clockify, not taken from the mirror, and the decider must manage that owner. Before every call
    and every commit the installation is looked at again (StepGuard): paused holds the job until
    STATUS_CHANGED ACTIVE queues it again, removed ends it without a call, reinstalled fails what is left.
    Safe to run again: only pending items are taken.
    """
    job = db.session.get(DecisionJob, job_id)
    if job is None or job.status == "done":
        return
    installation = _installation_of(job)
    if installation is None:
        return  # removed: DELETED takes the job with it, and no call is made with the old tokens
    if not installation.is_active:
        _hold(job, PAUSED)
        return
    guard = StepGuard.of(installation)
    job_clients = _JobClients(job, installation, clients, verifier, guard)
    item: DecisionItem | None = None
    try:
        user = job_clients.for_user()
        if user is None:
            _hold(job, WAITING)
            return
        job.status = "running"
        guard.commit()
        try:
            checks = _Checks.read(job, installation, user, job_clients)
        except UnauthorizedError as exc:
            guard.stopped_by(exc)
            db.session.rollback()
            _hold(job, WAITING)
            return
        while True:
            item = None
            guard()
            db.session.refresh(job)
            user = job_clients.for_user()
            if user is None:
                _hold(job, WAITING)
                return
            item = next_item(job)
            guard.commit()  # the claim is visible to any other run before Clockify is called
            if item is None:
                break
            refusal = checks.refusal(item)
            if refusal is not None:
                fail_item(job, item, refusal)
                guard.commit()
                continue
            try:
                apply_item(job, item, user, "user")
            except UnauthorizedError as exc:
                guard.stopped_by(exc)  # refused because Closeout was paused or removed meanwhile
                # The decider's token stopped working between the check and the call: wait for a fresh one.
                db.session.rollback()
                item.status = "pending"
                _hold(job, WAITING)
                return
            except ClockifyError as exc:
                guard.stopped_by(exc)
                # Rollback expires (not detaches) the job and item: they reload as committed.
                db.session.rollback()
                fail_item(job, item, decision_error_message(exc))
            guard.commit()
            if pace:
                time.sleep(pace)
    except JobStopped as stop:
        _stopped(job, item, stop)
        return
    finally:
        job_clients.close()
    # Another run of the same job may still be deciding its claimed item: the last one out finishes it.
    if not _items(job, "running"):
        finish_job(job)
        log.info(
            "workspace %s: decision job %s (%s) finished: %d done, %d failed",
            job.workspace_id,
            job.id,
            job.action,
            len(_items(job, "done")),
            len(_items(job, "failed")),
        )
    db.session.commit()


def _stopped(job: DecisionJob, item: DecisionItem | None, stop: JobStopped) -> None:
    """A step found Closeout paused, removed or reinstalled: hold, end quietly, or fail what is left."""
    db.session.rollback()
    if stop.state == REMOVED:
        log.info("workspace %s: removed; decision job %s ends here", job.workspace_id, job.id)
        return
    try:
        if item is not None and item.status == "running":
            item.status = "pending"  # claimed but not sent: the resumed job takes it again
        if stop.paused:
            _hold(job, PAUSED)
            return
        for waiting in _items(job, "pending"):
            fail_item(job, waiting, "Closeout was reinstalled on this workspace; decide again.")
        finish_job(job)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()  # removed meanwhile: nothing of the job is left to hold


def _installation_of(job: DecisionJob) -> Installation | None:
    return db.session.scalar(
        sa.select(Installation).filter_by(workspace_id=job.workspace_id).execution_options(populate_existing=True)
    )


def _hold(job: DecisionJob, status: str) -> None:
    """Stop the job without failing anything: it goes on when its token is fresh or Closeout is active again."""
    job.status = status
    db.session.commit()
    log.info("workspace %s: decision job %s is %s", job.workspace_id, job.id, status)


def paused_jobs(workspace_id: str) -> list[int]:
    """The decision jobs a pause held on this workspace, set to go on (STATUS_CHANGED ACTIVE queues them)."""
    ids = paused_workspace_jobs(DecisionJob, workspace_id)
    for job_id in ids:
        db.session.get(DecisionJob, job_id).status = "queued"  # type: ignore[union-attr]
    return ids


@dataclass
class _Checks:
    """What Clockify says now about the job's subjects, and whom the decider manages now."""

    job: DecisionJob
    scope: Scope
    requests: dict[str, RequestData]

    @classmethod
    def read(cls, job: DecisionJob, installation: Installation, user: Any, job_clients: _JobClients) -> _Checks:
        directory = load_directory(
            installation.workspace_id, job_clients.for_installation(), cache_key_for(installation)
        )
        viewer = Viewer(user_id=job.actor_user_id or "", role=job_clients.role)
        requests: dict[str, RequestData] = {}
        if job.action != "submit":
            wanted = {item.subject_id for item in _items(job, "pending")}
            # Read with the decider's own token: they see the requests they may decide. Only the states a
            # decision needs are listed (PENDING, APPROVED), so a request found is in the right state.
            requests = mirror.read_requests_in_state(user, REQUIRED_STATE[job.action], wanted)
            for data in requests.values():
                record_request(job.workspace_id, data)
            job_clients.guard.commit()
        return cls(job=job, scope=scope_for(viewer, directory), requests=requests)

    def refusal(self, item: DecisionItem) -> str | None:
        """Why this item must not be decided, or None."""
        if self.job.action == "submit":
            owner = item.subject_id
        else:
            data = self.requests.get(item.subject_id)
            if data is None:
                state = REQUIRED_STATE[self.job.action].lower()
                return f"Clockify no longer has this request {state}; refresh and select again."
            owner = data.user_id
        if not self.scope.may_decide(owner):
            log.warning(
                "workspace %s: decision job %s refused an item about someone its decider does not manage",
                self.job.workspace_id,
                self.job.id,
            )
            return "You can only decide requests of people you manage."
        return None


class _JobClients:
    """The Clockify clients a job uses: the decider's (rebuilt when the tab hands over a fresh token) to
    decide, and the installation's only to read users and groups."""

    def __init__(
        self, job: DecisionJob, installation: Installation, clients: Clients, verifier: Verifier, guard: StepGuard
    ) -> None:
        self.job = job
        self.guard = guard
        self.installation = installation
        self.clients = clients
        self.verifier = verifier
        # (token ciphertext, client or None, token claims)
        self._user: tuple[str, Any, dict[str, Any]] | None = None
        self._installation: Any = None

    @property
    def role(self) -> Role:
        return role_from_claim(self._user[2].get("workspaceRole") if self._user else None)

    def for_installation(self) -> Any:
        if self._installation is None:
            self._installation = self.clients.for_job(self.installation, self.guard)
        return self._installation

    def for_user(self) -> Any:
        """The decider's client while their token is fresh, else None."""
        ciphertext = self.job.user_token_ciphertext
        if not ciphertext:
            return None
        if self._user is None or self._user[0] != ciphertext:
            if self._user is not None and self._user[1] is not None:
                self._user[1].close()
            made = _user_client_for(self.job, self.installation, self.clients, self.verifier)
            if made is not None:
                guarded(made[0], self.guard)
            self._user = (ciphertext, *(made or (None, {})))
        _, client, claims = self._user
        return client if client is not None and token_is_fresh(claims) else None

    def close(self) -> None:
        for client in (self._installation, self._user[1] if self._user else None):
            if client is not None:
                client.close()


def _user_client_for(
    job: DecisionJob, installation: Installation, clients: Clients, verifier: Verifier
) -> tuple[Any, dict[str, Any]] | None:
    """The decider's client and its token's claims, or None when the stored token is unusable."""
    if not job.user_token_ciphertext:
        return None
    try:
        token = decrypt(job.user_token_ciphertext)
    except DecryptionError:
        return None
    try:
        claims = verifier.verify(token, leeway=0)
        check_kind(claims, TokenKind.USER)
    except AuthError:
        return None
    ctx = context(token, claims, TokenKind.USER)
    # The decider's token of this installation, and nobody else's.
    if ctx.workspace_id != job.workspace_id or ctx.user_id != job.actor_user_id:
        return None
    if ctx.addon_id and ctx.addon_id != installation.addon_id:
        return None
    if not token_is_fresh(claims):
        return None
    return clients.for_user(ctx, installation, interactive=False), claims


def decision_error_message(exc: Exception) -> str:
    """What a person reads beside a failed decision: Clockify's reason, never a trace or a token."""
    if isinstance(exc, ForbiddenError):
        # One wording of the plan gate (clockify.errors.Feature); a 403 may also be the decider's rights.
        gate = exc.feature.message if exc.feature is not None else "Clockify refused this decision."
        return f"{gate} Otherwise the decider may not approve this person."
    if isinstance(exc, NotFoundError):
        return "Clockify no longer has this request."
    if isinstance(exc, RateLimitedError):
        return "Clockify asked Closeout to slow down; retry in a minute."
    if isinstance(exc, TransportError):
        return "Clockify could not be reached; retry to try again."
    return refusal_text(exc, "Clockify refused the decision")
