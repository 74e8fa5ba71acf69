"""What scheduling does on webhooks, at reconciliation and in the sweep: move the schedule version, resume jobs."""

from __future__ import annotations

from typing import Any

from ..platform.events import EventContext, FollowUp
from ..platform.models import Installation
from .publish import JOB_TASK, bump_version, paused_jobs, release_stalled

# Deliveries after which the plan, the tracked hours or the capacity may read differently. ASSIGNMENT_* come
# from the webhooks Closeout registers through the Webhooks API (manifest schema 1.4 cannot declare them).
RELEVANT_EVENTS = (
    "ASSIGNMENT_CREATED",
    "ASSIGNMENT_UPDATED",
    "ASSIGNMENT_DELETED",
    "ASSIGNMENT_PUBLISHED",
    "NEW_TIME_ENTRY",
    "TIME_ENTRY_UPDATED",
    "TIME_ENTRY_DELETED",
    "USER_JOINED_WORKSPACE",
    "USER_DEACTIVATED_ON_WORKSPACE",
    "USER_DELETED_FROM_WORKSPACE",
)


def on_schedule_event(ctx: EventContext) -> None:
    """A delivery is a hint: the next render reads Clockify afresh, and open tabs reload their heatmap."""
    bump_version(ctx.workspace_id)


def reconcile_schedule(installation: Installation, client: Any) -> None:
    """Backstop for lost deliveries (and for time off and holidays, which send none Closeout receives)."""
    bump_version(installation.workspace_id)


def resume_stalled_jobs() -> list[FollowUp]:
    return [FollowUp(JOB_TASK, (job_id,)) for job_id in release_stalled()]


def resume_paused_jobs(workspace_id: str) -> list[FollowUp]:
    """STATUS_CHANGED ACTIVE: the publish and copy jobs the pause held go on."""
    return [FollowUp(JOB_TASK, (job_id,)) for job_id in paused_jobs(workspace_id)]
