"""The `schedule.tab` component: the capacity heatmap, variance, Publish and Copy to next weeks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, make_response, request

from ..clockify.errors import ClockifyError, ForbiddenError, UnauthorizedError
from ..errors import error_response
from ..extensions import db
from ..formatting import zone_or_utc
from ..htmx import render, toast, trigger
from ..manifest import component_paths
from ..platform.clients import Clients, clients_for
from ..platform.models import Installation
from ..queue import enqueue
from ..security import requires_user
from ..settings.store import get_settings
from ..workspace import preferences, totals
from ..workspace.directory import Directory, cache_key_for, load_directory
from . import plan as plans
from . import publish

log = logging.getLogger(__name__)

bp = Blueprint("schedule", __name__)
BASE = component_paths()["schedule.tab"]
PLAN_MESSAGE = "Scheduling needs a Pro plan or higher, so this tab has nothing to show on this workspace."


@dataclass
class View:
    """Who is looking, at which range and filters, and what they may see: built once per request."""

    installation: Installation
    client: Any
    directory: Directory
    scope: plans.Scope
    window: plans.Window
    today: date
    zone: str
    week_start: str
    under: float
    over: float
    group_id: str | None
    project_id: str | None


def _clients() -> Clients:
    return clients_for(current_app._get_current_object())  # type: ignore[attr-defined]


def _view(args: Any = None) -> View:
    args = request.values if args is None else args
    installation: Installation = g.installation
    client = g.schedule_client = _clients().for_installation(installation, interactive=True)
    directory = load_directory(installation.workspace_id, client, cache_key_for(installation))
    g.preferences = preferences.for_request(g.auth, installation, _clients())
    info = preferences.workspace_info(installation.workspace_id, lambda: client)
    today = datetime.now(UTC).astimezone(zone_or_utc(info.time_zone)).date()
    settings = get_settings(installation.workspace_id)
    window = plans.parse_window(args, today, info.week_start, str(settings["scheduling.heatmap_view"]))
    scope = plans.scope_for(g.auth.role, g.auth.user_id or "", directory)
    group_id = str(args.get("group") or "") or None
    if group_id and not any(gr.get("id") == group_id for gr in _groups(directory, scope)):
        raise plans.ScheduleError("That group is not one you can see.", 403)
    return View(
        installation,
        client,
        directory,
        scope,
        window,
        today,
        info.time_zone,
        info.week_start,
        float(settings["scheduling.under_max_percent"]),
        float(settings["scheduling.over_min_percent"]),
        group_id,
        str(args.get("project") or "")[:64] or None,
    )


def _groups(directory: Directory, scope: plans.Scope) -> list[dict[str, Any]]:
    """Groups the viewer may filter by: all for admins, those they manage or belong to otherwise."""
    return [g_ for g_ in directory.groups if scope.everyone or set(g_.get("userIds") or ()) & scope.user_ids]


def _plan(view: View, window: plans.Window | None = None) -> plans.Plan:
    window = window or view.window
    key = (
        view.installation.workspace_id,
        publish.version_of(view.installation.workspace_id),
        window,
        view.today,
        view.group_id,
        view.project_id,
        view.scope,
    )
    db.session.rollback()  # no read transaction held open across the Clockify calls
    return plans.cached_plan(
        key,
        lambda: plans.build_plan(
            view.client,
            view.directory,
            window,
            view.today,
            view.zone,
            view.scope,
            group_id=view.group_id,
            project_id=view.project_id,
        ),
    )


def _context(view: View, plan: plans.Plan) -> dict[str, Any]:
    previous = view.window.first - timedelta(days=7 * view.window.weeks)
    following = view.window.first + timedelta(days=7 * view.window.weeks)
    return {
        "auth": g.auth,
        "view": view,
        "plan": plan,
        "rows": plans.heatmap(plan, view.under, view.over),
        "columns": view.window.columns(),
        "hours": plans.hours,
        "groups": _groups(view.directory, view.scope),
        "projects": sorted(plan.projects.items(), key=lambda kv: kv[1].lower()),
        "previous": previous,
        "following": following,
        "this_week": plans.week_of(view.today, view.week_start),
        "week": timedelta(days=6),
        "version": publish.version_of(view.installation.workspace_id),
    }


@bp.teardown_request
def _close_client(_exc: BaseException | None) -> None:
    client = g.pop("schedule_client", None)
    if client is not None:
        client.close()


def _clockify_message(exc: ClockifyError) -> str:
    if isinstance(exc, ForbiddenError) and (exc.feature is None or exc.feature.key == "scheduling"):
        return PLAN_MESSAGE
    if isinstance(exc, ForbiddenError) and exc.feature is not None:
        return exc.feature.message
    if isinstance(exc, UnauthorizedError):
        return f"Clockify refused Closeout's access ({exc.message})."
    return "Clockify could not be reached, so the schedule could not be read. Try again in a minute."


@bp.errorhandler(ClockifyError)
def _clockify_error(exc: ClockifyError) -> Response:
    """Clockify refused or failed: one sentence in place of the tab; the rest of Closeout is untouched."""
    db.session.rollback()
    log.info("schedule: Clockify refused %s (%s)", exc.path, exc.status)
    message = _clockify_message(exc)
    if request.method == "GET" and request.path == BASE and not request.headers.get("HX-Request"):
        return render("scheduling/unavailable.html", auth=g.get("auth"), message=message)
    return error_response(403 if isinstance(exc, ForbiddenError) else 502, message)


@bp.get(BASE)
@requires_user()
def page() -> Response:
    """Plan vs actual: the heatmap of the chosen weeks, the variance, and (for admins) Publish and Copy."""
    view = _view()
    plan = _plan(view)
    jobs = publish.recent_jobs(view.installation.workspace_id) if view.scope.may_act else []
    return render("scheduling/page.html", jobs=jobs, **_context(view, plan))


@bp.get(BASE + "/heatmap")
@requires_user()
def heatmap() -> Response:
    """The heatmap alone: another range, view or filter, or a refresh after Clockify reported a change."""
    view = _view()
    return render("scheduling/_heatmap.html", "scheduling/_heatmap.html", **_context(view, _plan(view)))


@bp.get(BASE + "/cell")
@requires_user()
def cell() -> Response:
    """What is behind one cell: assignments, time off, holidays and tracked hours by project."""
    view = _view()
    user_id, first, last = _parse_cell(str(request.args.get("cell") or ""))
    if not view.scope.sees(user_id):
        raise plans.ScheduleError("That cell is not on your heatmap.", 404)
    detail = plans.cell_detail(_plan(view), user_id, first, last, view.under, view.over)
    holidays = plans.holidays_for(view.client, user_id, first, last)
    return render(
        "scheduling/_cell.html",
        "scheduling/_cell.html",
        auth=g.auth,
        detail=detail,
        holidays=holidays,
        hours=plans.hours,
    )


def _parse_cell(value: str) -> tuple[str, date, date]:
    parts = value.split("|")
    if len(parts) != 3 or not parts[0] or len(parts[0]) > 64:
        raise plans.ScheduleError("Pick a cell of the heatmap.", 400)
    try:
        first, last = date.fromisoformat(parts[1]), date.fromisoformat(parts[2])
    except ValueError as exc:
        raise plans.ScheduleError("Pick a cell of the heatmap.", 400) from exc
    return parts[0], first, last


@bp.get(BASE + "/variance")
@requires_user()
def variance() -> Response:
    """Scheduled against tracked per person and per project, sortable; projects against their estimate."""
    view = _view()
    plan = _plan(view)
    sort = str(request.args.get("sort") or "name")
    descending = request.args.get("order") == "desc"
    people = plans.sort_rows(plans.variance_by_person(plan), sort, descending)
    projects = list(view.client.iter_projects(archived=False)) if plan.people else []
    now = datetime.now(UTC)
    spent = totals.tracked_by_project(view.client, (datetime(2000, 1, 1, tzinfo=UTC), now)) if projects else {}
    by_project = plans.sort_rows(plans.variance_by_project(plan, projects, spent), sort, descending)
    return render(
        "scheduling/_variance.html",
        "scheduling/_variance.html",
        auth=g.auth,
        people=people,
        projects=by_project,
        sort=sort,
        descending=descending,
        hours=plans.hours,
        view=view,
    )


def _range_args(view: View) -> tuple[date, date]:
    try:
        first = date.fromisoformat(str(request.values.get("first") or ""))
        last = date.fromisoformat(str(request.values.get("last") or ""))
    except ValueError as exc:
        raise plans.ScheduleError("Pick the first and last day to publish.", 400) from exc
    if last < first or (last - first).days > 7 * plans.MAX_WEEKS:
        raise plans.ScheduleError(f"Publish a range of at most {plans.MAX_WEEKS} weeks.", 400)
    return first, last


def _publish_plan(view: View, first: date, last: date) -> plans.Plan:
    weeks = ((last - plans.week_of(first, view.week_start)).days // 7) + 1
    return _plan(view, plans.Window(plans.week_of(first, view.week_start), weeks, "weekly"))


@bp.get(BASE + "/publish")
@requires_user(admin=True)
def publish_preview() -> Response:
    """How many assignments and hours are unpublished in the range: shown before anything is published."""
    view = _view()
    first, last = _range_args(view)
    preview = publish.publish_preview(_publish_plan(view, first, last), first, last, request.values.getlist("users"))
    return render("scheduling/_publish.html", "scheduling/_publish.html", auth=g.auth, preview=preview)


@bp.post(BASE + "/publish")
@requires_user(admin=True)
def publish_range() -> Response:
    """Publish the previewed range (with or without notifying people), as a job made with the viewer's token."""
    view = _view()
    first, last = _range_args(view)
    preview = publish.publish_preview(_publish_plan(view, first, last), first, last, request.form.getlist("users"))
    actor = (g.auth.user_id or "", view.directory.name(g.auth.user_id or ""))
    job = publish.start_publish(view.installation.workspace_id, actor, view.scope, preview, _flag("notify"))
    publish.store_user_token(job, g.auth.token)
    db.session.commit()
    return _started(job)


@bp.post(BASE + "/copy")
@requires_user(admin=True)
def copy() -> Response:
    """Copy to next weeks: a week's assignments of chosen people into the next N weeks, as a job."""
    view = _view()
    try:
        source = plans.week_of(date.fromisoformat(str(request.form.get("week") or "")), view.week_start)
        weeks = int(str(request.form.get("weeks") or "1"))
    except ValueError as exc:
        raise plans.ScheduleError("Pick a week and a number of weeks.", 400) from exc
    if not 1 <= weeks <= publish.MAX_COPY_WEEKS:
        raise plans.ScheduleError(f"Copy to between 1 and {publish.MAX_COPY_WEEKS} weeks.", 400)
    window = plans.Window(source, weeks + 1, "weekly")
    plan = _plan(view, window)
    actor = (g.auth.user_id or "", view.directory.name(g.auth.user_id or ""))
    job = publish.plan_copies(
        view.installation.workspace_id,
        actor,
        view.scope,
        plan,
        source,
        request.form.getlist("users"),
        weeks,
        _flag("allow_overbooking"),
    )
    publish.store_user_token(job, g.auth.token)
    db.session.commit()
    return _started(job)


def _flag(name: str) -> bool:
    return str(request.form.get(name) or "").lower() in ("1", "on", "true", "yes")


def _queue(job_id: int) -> None:
    # After the commit that made the job; if the queue is down, the minute sweep queues it once it stalls.
    enqueue(current_app._get_current_object(), publish.JOB_TASK, job_id)  # type: ignore[attr-defined]


def _started(job: Any) -> Response:
    if job.status != "done":
        _queue(job.id)
    progress = publish.job_progress(job.workspace_id, job.id)
    return render("scheduling/_job.html", "scheduling/_job.html", auth=g.auth, progress=progress)


@bp.get(BASE + "/jobs/<int:job_id>")
@requires_user(admin=True)
def job(job_id: int) -> Response:
    """A job's progress, polled while it runs; its author's poll hands it their fresh token."""
    found = publish.get_job(g.installation.workspace_id, job_id)
    resume = False
    if found.actor_user_id == g.auth.user_id:
        resume = publish.store_user_token(found, g.auth.token)
        if resume:
            found.status = "queued"
    db.session.commit()
    if resume:
        _queue(found.id)
    progress = publish.job_progress(g.installation.workspace_id, job_id)
    response = render("scheduling/_job.html", "scheduling/_job.html", auth=g.auth, progress=progress)
    if progress.finished and request.args.get("poll"):
        trigger(response, {"closeout:schedule-changed": True})
    return response


@bp.post(BASE + "/jobs/<int:job_id>/retry")
@requires_user(admin=True)
def retry(job_id: int) -> Response:
    """Queue a finished job's failed calls again (a copy already made is moved, not made twice)."""
    view = _view()
    found = publish.retry_failed(view.installation.workspace_id, job_id, view.scope)
    publish.store_user_token(found, g.auth.token)
    db.session.commit()
    return toast(_started(found), "Retrying the failed calls…", "info")


@bp.get(BASE + "/version")
@requires_user()
def version() -> Response:
    """What an open tab polls: 204 while nothing changed, else a trigger that reloads the heatmap."""
    current = str(publish.version_of(g.installation.workspace_id))
    if request.args.get("v") == current:
        return make_response("", 204)
    response = render("scheduling/_version.html", "scheduling/_version.html", version=current)
    return trigger(response, "closeout:schedule-changed")
