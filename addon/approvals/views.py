"""The `approvals.tab` component: the approval queue, decisions, missing submissions and auto-approval."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, make_response, request

from ..clockify.errors import BudgetExceededError, ClockifyError, ForbiddenError, UnauthorizedError
from ..errors import error_response
from ..exceptions import ApprovalError
from ..extensions import db
from ..formatting import zone_or_utc
from ..htmx import render, toast, trigger
from ..manifest import component_paths
from ..platform.clients import Clients, clients_for
from ..platform.models import Installation
from ..queue import enqueue
from ..security import requires_user
from ..workspace import preferences, totals
from ..workspace.directory import Directory, cache_key_for, load_directory
from ..workspace.periods import Period
from . import auto, decisions, mirror
from . import queue as queues

log = logging.getLogger(__name__)

bp = Blueprint("approvals", __name__)
BASE = component_paths()["approvals.tab"]
# Scheduling and reports run on UTC calendar days: totals per day are keyed by date.
PERIOD_ZONE = "UTC"


@dataclass
class View:
    """Who is looking, at which period, and what they may see: built once per request."""

    installation: Installation
    client: Any
    viewer: queues.Viewer
    directory: Directory
    scope: queues.Scope
    period: Period


def _clients() -> Clients:
    return clients_for(current_app._get_current_object())  # type: ignore[attr-defined]


# Reads of one open that do not depend on each other run side by side, each on a client of its own (sharing
# the installation's kept session). Only Clockify calls run in these threads, never the database.
_readers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="approvals-read")


def _reader() -> Any:
    """A client for one side-by-side read, closed with the request."""
    client = _clients().for_installation(g.installation, interactive=True)
    g.setdefault("approvals_readers", []).append(client)
    return client


def _view() -> View:
    installation: Installation = g.installation
    client = g.approvals_client = _clients().for_installation(installation, interactive=True)
    # Users and groups are read while the viewer's formats and the workspace's period are.
    directory_read = _readers.submit(load_directory, installation.workspace_id, _reader(), cache_key_for(installation))
    # Dates, hours and money in the viewer's formats and zone; the workspace's approval period.
    g.preferences = preferences.for_request(g.auth, installation, _clients())
    info = preferences.workspace_info(installation.workspace_id, lambda: client)
    try:
        directory = directory_read.result()
        g.directory_error = None
    except ClockifyError as exc:
        # Without users and groups nobody but owners and admins sees anything: safe, and said inline.
        directory = Directory(users={}, groups=[])
        g.directory_error = _clockify_message(exc, "People and teams could not be read")
    user_id = g.auth.user_id or ""
    viewer = queues.Viewer(user_id=user_id, role=g.auth.role, name=directory.name(user_id))
    # "Last closed" is judged on the workspace's clock: a viewer already in Monday somewhere east must not
    # default to a week nobody else has closed yet.
    today = datetime.now(UTC).astimezone(zone_or_utc(info.time_zone)).date()
    period = queues.choose_period(
        request.values.get("period"), today, kind=info.approval_period, week_start=info.week_start
    )
    return View(installation, client, viewer, directory, queues.scope_for(viewer, directory), period)


def _read_scheduled(view: View) -> Future[dict[str, int]]:
    """Start reading the period's scheduled hours beside whatever the request does next."""
    return _readers.submit(
        totals.scheduled_seconds_cached_as,
        cache_key_for(view.installation),
        view.installation.workspace_id,
        _reader(),
        view.period,
        PERIOD_ZONE,
    )


def _queue_context(
    view: View, filters: queues.QueueFilters, scheduled_read: Future[dict[str, int]] | None = None
) -> dict[str, Any]:
    scheduled: dict[str, int] | None
    schedule_error = None
    try:
        scheduled = (scheduled_read or _read_scheduled(view)).result()
    except ClockifyError as exc:
        scheduled = None
        schedule_error = _clockify_message(exc, "Scheduled hours are unavailable")
    settings = auto.rules_for(view.installation.workspace_id)
    queue = queues.build_queue(
        view.installation.workspace_id,
        view.period,
        view.scope,
        view.directory,
        scheduled,
        filters,
        max_daily_hours=settings.max_hours_per_day,
    )
    return {
        "queue": queue,
        "filters": filters,
        "period": view.period,
        "scope": view.scope,
        "viewer": view.viewer,
        "directory": view.directory,
        "schedule_error": schedule_error,
        "version": queues.queue_version(view.installation.workspace_id),
        "directory_error": g.get("directory_error"),
        # Filter choices never name groups or managers outside what the viewer may see.
        "groups": [
            gr
            for gr in view.directory.groups
            if view.scope.everyone or set(gr.get("userIds") or ()) & view.scope.user_ids
        ],
        "managers": [
            m for m in view.directory.all_managers() if view.scope.everyone or m.get("id") == view.viewer.user_id
        ],
    }


def _clockify_message(exc: ClockifyError, fallback: str) -> str:
    if isinstance(exc, BudgetExceededError):
        return f"Clockify is slow; showing what Closeout stored at {_last_read()}."
    if isinstance(exc, ForbiddenError) and exc.feature is not None:
        return exc.feature.message
    if isinstance(exc, UnauthorizedError):
        return f"{fallback}: Clockify refused Closeout's access ({exc.message})."
    return f"{fallback}: {getattr(exc, 'message', '') or 'Clockify did not answer'}."


@bp.teardown_request
def _close_client(_exc: BaseException | None) -> None:
    for client in [g.pop("approvals_client", None), *g.pop("approvals_readers", [])]:
        if client is not None:
            client.close()


@bp.errorhandler(ClockifyError)
def _clockify_error(exc: ClockifyError) -> Response:
    db.session.rollback()
    log.info("approvals: Clockify refused %s (%s)", exc.path, exc.status)
    if isinstance(exc, ForbiddenError):
        return error_response(403, _clockify_message(exc, "Clockify refused"))
    return error_response(502, _clockify_message(exc, "Clockify could not be reached"))


@bp.get(BASE)
@requires_user()
def page() -> Response:
    """The approvals tab: the queue of a period, with decisions, submissions and auto-approval."""
    view = _view()
    # A period read before is served from the mirror at once (deliveries keep it current) and read again
    # in the background; the version poll reloads the queue if that read changes anything.
    last_read = preferences.last_read(view.installation.workspace_id, mirror.read_scope(view.period.start))
    scheduled_read = _read_scheduled(view)  # beside the period's own read
    sync_error = _sync(view) if last_read is None else None
    context = _queue_context(view, queues.parse_filters(request.args), scheduled_read)
    if last_read is not None and (datetime.now(UTC) - last_read).total_seconds() >= mirror.REVALIDATE_AFTER_SECONDS:
        enqueue(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            mirror.PERIOD_SYNC_TASK,
            view.installation.workspace_id,
            view.period.start.isoformat(),
        )
    return render(
        "approvals/page.html",
        auth=g.auth,
        sync_error=sync_error,
        last_read=last_read or (None if sync_error else datetime.now(UTC)),
        periods=_period_choices(view.period),
        jobs=decisions.recent_jobs(view.installation.workspace_id, view.viewer, view.scope),
        evaluations=_evaluations(view),
        audit=decisions.audit_log(view.installation.workspace_id, view.viewer, view.scope),
        **context,
    )


def _sync(view: View) -> str | None:
    """Read the period from Clockify into the mirror (then commit); an error is shown, the mirror still is."""
    try:
        fetched = mirror.fetch_requests(view.client, view.period.start)
    except ClockifyError as exc:
        log.info("approvals: reading requests of %s failed (%s)", view.installation.workspace_id, exc.status)
        return _clockify_message(exc, "Could not read approval requests")
    mirror.store_requests(view.installation.workspace_id, fetched)
    db.session.commit()
    preferences.note_read(view.installation.workspace_id, mirror.read_scope(view.period.start))
    return None


def _last_read() -> str:
    """When the mirror was last written from Clockify, in the viewer's format (HH:MM)."""
    moment = queues.last_synced(g.installation.workspace_id)
    if moment is None:
        return "its last read"
    prefs = g.get("preferences")
    zone = zone_or_utc(getattr(prefs, "time_zone", None) or "UTC")
    return moment.astimezone(zone).strftime("%H:%M")


def _period_choices(current: Period) -> list[Period]:
    """The chosen period among its neighbours: the next one (if it has started) and seven before."""
    week_start = current.start.strftime("%A").upper()  # a weekly period starts on the week's first day
    following = current.next(week_start)
    periods = [following] if following.start <= datetime.now(UTC).date() else []
    periods.append(current)
    while len(periods) < 8:
        periods.append(periods[-1].previous(week_start))
    return periods


def _evaluations(view: View) -> list[Any]:
    visible = None if view.scope.everyone else set(view.scope.user_ids)
    return auto.recent_evaluations(view.installation.workspace_id, visible, limit=20)


@bp.get(BASE + "/queue")
@requires_user()
def queue() -> Response:
    """The queue alone (filters, sorting, paging, and refreshes when Clockify reports a change)."""
    view = _view()
    sync_error = _sync(view) if request.args.get("refresh") else None
    context = _queue_context(view, queues.parse_filters(request.args))
    return render(
        "approvals/_queue.html", "approvals/_queue.html", auth=g.auth, sync_error=sync_error, oob=True, **context
    )


@bp.get(BASE + "/evaluations")
@requires_user()
def evaluations() -> Response:
    """The latest auto-approval evaluations the viewer may see."""
    view = _view()
    return render(
        "approvals/_evaluations.html",
        "approvals/_evaluations.html",
        auth=g.auth,
        evaluations=_evaluations(view),
    )


@bp.get(BASE + "/version")
@requires_user()
def version() -> Response:
    """What an open tab polls: 204 while nothing changed, else a trigger that reloads the queue."""
    current = queues.queue_version(g.installation.workspace_id)
    if request.args.get("v") == current:
        return make_response("", 204)
    response = render("approvals/_version.html", "approvals/_version.html", version=current)
    return trigger(response, "closeout:approvals-changed")


@bp.post(BASE + "/decisions")
@requires_user()
def decide() -> Response:
    """Approve, reject or withdraw one request, a selection, or every request matching the filter."""
    decisions.require_fresh_token(g.auth)
    view = _view()
    action = str(request.form.get("action") or "")
    if request.form.get("all") == "1":
        filters = queues.parse_filters(request.form)
        scheduled = None  # matching ignores scheduled hours: they neither filter nor decide
        queue = queues.build_queue(
            view.installation.workspace_id, view.period, view.scope, view.directory, scheduled, filters
        )
        # "All matching" means all that this decision applies to: approve/reject take the pending ones.
        ids = [i for i, state in queue.matching if state == decisions.REQUIRED_STATE.get(action)]
    else:
        ids = request.form.getlist("ids")
    job = decisions.start_decisions(
        view.installation.workspace_id, view.viewer, view.scope, action, ids, request.form.get("note")
    )
    decisions.store_user_token(job, g.auth)
    db.session.commit()
    return _started(job)


def _queue_decisions(job_id: int) -> None:
    # After the commit that made the job; if the queue is down, the minute sweep queues it once it stalls.
    enqueue(current_app._get_current_object(), decisions.DECISION_TASK, job_id)  # type: ignore[attr-defined]


def _started(job: Any) -> Response:
    _queue_decisions(job.id)
    progress = decisions.job_progress(job.workspace_id, job.id)
    response = render("approvals/_job.html", "approvals/_job.html", auth=g.auth, progress=progress)
    return response


@bp.get(BASE + "/decisions/<int:job_id>")
@requires_user()
def job(job_id: int) -> Response:
    """A decision job's progress; polled while it runs, with the viewer's fresh token handed to it."""
    view_job = decisions.get_job(g.installation.workspace_id, job_id)
    if not g.auth.is_admin and view_job.actor_user_id != g.auth.user_id:
        # Someone else's decisions name people this viewer may not see.
        raise ApprovalError("That decision job does not exist.", 404)
    # The decider's fresh token goes to the job; a job that waited for one goes on.
    resumed = decisions.store_user_token(view_job, g.auth)
    stalled = decisions.resume_if_stalled(view_job)
    db.session.commit()
    if resumed or stalled:
        _queue_decisions(view_job.id)
    progress = decisions.job_progress(g.installation.workspace_id, job_id)
    response = render("approvals/_job.html", "approvals/_job.html", auth=g.auth, progress=progress)
    if progress.finished and request.args.get("poll"):
        summary = f"Approvals: {progress.done} done, {progress.failed} failed" + (
            f", {progress.skipped} skipped." if progress.skipped else "."
        )
        trigger(
            response,
            {
                "closeout:approvals-changed": True,
                "closeout:toast": {"type": "warning" if progress.failed else "success", "message": summary},
            },
        )
    return response


@bp.post(BASE + "/decisions/<int:job_id>/retry")
@requires_user()
def retry(job_id: int) -> Response:
    """Queue a finished job's failed decisions again."""
    decisions.require_fresh_token(g.auth)
    view = _view()
    job = decisions.retry_failed(view.installation.workspace_id, job_id, view.viewer, view.scope)
    decisions.store_user_token(job, g.auth)
    db.session.commit()
    return _started(job)


@bp.get(BASE + "/missing")
@requires_user()
def missing() -> Response:
    """Active people with tracked time in the period and no approval request for it."""
    view = _view()
    error = None
    people: list[queues.MissingSubmission] = []
    if view.scope.read_only:
        people = []
    else:
        try:
            tracked = totals.tracked_by_user(view.client, view.period, PERIOD_ZONE)
            people = queues.missing_submissions(
                view.installation.workspace_id, view.period, view.scope, view.directory, tracked
            )
        except ClockifyError as exc:
            error = _clockify_message(exc, "Tracked time is unavailable")
    return render(
        "approvals/_missing.html",
        "approvals/_missing.html",
        auth=g.auth,
        people=people,
        error=error,
        period=view.period,
        scope=view.scope,
    )


@bp.post(BASE + "/submissions")
@requires_user()
def submit() -> Response:
    """Submit the period on behalf of one or many people."""
    decisions.require_fresh_token(g.auth)
    view = _view()
    job = decisions.start_submissions(
        view.installation.workspace_id,
        view.viewer,
        view.scope,
        view.period,
        request.form.getlist("user_ids"),
        view.directory,
    )
    decisions.store_user_token(job, g.auth)
    db.session.commit()
    return toast(_started(job), "Submitting on behalf…", "info")
