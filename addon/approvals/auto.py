"""Auto-approval: the rules from settings, their evaluation against a request, and the record of each one."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from ..clockify.errors import ClockifyError
from ..extensions import db
from ..platform import audit
from ..platform.models import Installation
from ..settings.store import get_settings
from ..workspace.directory import cache_key_for, load_directory
from ..workspace.periods import Period
from ..workspace.totals import scheduled_seconds
from .mirror import RequestData, entry_stats, parse_duration, parse_request, record_request
from .models import ApprovalRequestRecord, AutoApprovalEvaluation

log = logging.getLogger(__name__)

ACTOR_NAME = "Closeout auto-approval"


@dataclass(frozen=True)
class Rules:
    """The auto-approval settings of a workspace, read once per evaluation run."""

    enabled: bool
    dry_run: bool
    tolerance_percent: float
    max_hours_per_day: float
    require_project: bool
    user_groups: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Rules:
        return cls(
            enabled=bool(settings.get("approvals.auto_enabled", False)),
            dry_run=bool(settings.get("approvals.dry_run", True)),
            tolerance_percent=float(settings.get("approvals.tolerance_percent", 10) or 0),
            max_hours_per_day=float(settings.get("approvals.max_hours_per_day", 12) or 24),
            require_project=bool(settings.get("approvals.require_project", True)),
            user_groups=tuple(str(g) for g in settings.get("approvals.user_groups") or ()),
        )

    @property
    def name(self) -> str:
        """The rule as people read it: what a live approval's note names."""
        parts = [f"within {self.tolerance_percent:g}% of scheduled hours", f"no day over {self.max_hours_per_day:g} h"]
        if self.require_project:
            parts.append("a project on every entry")
        parts.append("no overlapping entries")
        if self.user_groups:
            parts.append("user in a group in scope")
        return ", ".join(parts)


@dataclass(frozen=True)
class Verdict:
    passes: bool
    reason: str
    inputs: dict[str, Any]


def evaluate(
    record: ApprovalRequestRecord, rules: Rules, scheduled_seconds: int | None, user_group_ids: set[str]
) -> Verdict:
    """Does the request pass every rule? A request is only ever approved on complete information."""
    stats = record.entry_stats or {}
    per_day = {k: int(v) for k, v in (stats.get("per_day") or {}).items()}
    tracked = record.tracked_seconds
    variance_pct = None
    if scheduled_seconds:
        variance_pct = round(100.0 * (tracked - scheduled_seconds) / scheduled_seconds, 2)
    inputs: dict[str, Any] = {
        "state": record.state,
        "tracked_seconds": tracked,
        "scheduled_seconds": scheduled_seconds,
        "variance_percent": variance_pct,
        "max_day_seconds": max(per_day.values(), default=0),
        "entries_without_project": int(stats.get("without_project") or 0),
        "overlapping_entries": int(stats.get("overlapping") or 0),
        "user_groups": sorted(user_group_ids),
        "tolerance_percent": rules.tolerance_percent,
        "max_hours_per_day": rules.max_hours_per_day,
        "require_project": rules.require_project,
        "groups_in_scope": list(rules.user_groups),
    }
    if record.state != "PENDING":
        return Verdict(False, f"the request is {record.state.lower()}, not pending", inputs)
    if not record.has_details:
        return Verdict(False, "the request's entries could not be read", inputs)
    if rules.user_groups and not user_group_ids.intersection(rules.user_groups):
        return Verdict(False, "the person is in no user group in scope", inputs)
    if scheduled_seconds is None:
        return Verdict(False, "scheduled hours could not be read", inputs)
    if not scheduled_seconds:
        return Verdict(False, "nothing was scheduled, so there is no plan to compare with", inputs)
    if variance_pct is None or abs(variance_pct) > rules.tolerance_percent:
        return Verdict(
            False, f"tracked is {variance_pct:+g}% against scheduled (tolerance {rules.tolerance_percent:g}%)", inputs
        )
    if inputs["max_day_seconds"] > rules.max_hours_per_day * 3600:
        hours = inputs["max_day_seconds"] / 3600
        return Verdict(False, f"a day has {hours:.2f} h (maximum {rules.max_hours_per_day:g} h)", inputs)
    if rules.require_project and inputs["entries_without_project"]:
        return Verdict(False, f"{inputs['entries_without_project']} entries have no project", inputs)
    if inputs["overlapping_entries"]:
        return Verdict(False, f"{inputs['overlapping_entries']} entries overlap", inputs)
    return Verdict(True, "every rule passed", inputs)


def already_decided(workspace_id: str, request_id: str) -> bool:
    """True once a request was approved live by auto-approval, or evaluated while pending in this state."""
    return request_id in decided_ids(workspace_id, [request_id])


def decided_ids(workspace_id: str, request_ids: list[str]) -> set[str]:
    """Which of these requests auto-approval has already decided: one query for a whole reconciliation."""
    if not request_ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(AutoApprovalEvaluation.approval_request_id)
            .where(
                AutoApprovalEvaluation.workspace_id == workspace_id,
                AutoApprovalEvaluation.approval_request_id.in_(request_ids),
                AutoApprovalEvaluation.outcome.in_(("approved", "would_approve", "held")),
            )
            .distinct()
        )
    )


def record_evaluation(
    record: ApprovalRequestRecord, rules: Rules, verdict: Verdict, trigger: str, outcome: str, reason: str
) -> AutoApprovalEvaluation:
    evaluation = AutoApprovalEvaluation(
        workspace_id=record.workspace_id,
        approval_request_id=record.clockify_id,
        user_id=record.user_id,
        user_name=record.user_name,
        trigger=trigger,
        rule=rules.name[:200],
        inputs=verdict.inputs,
        outcome=outcome,
        reason=reason[:1000],
        is_dry_run=rules.dry_run,
    )
    db.session.add(evaluation)
    return evaluation


def approval_note(rules: Rules) -> str:
    return f"Auto-approved by Closeout: {rules.name}."


def recent_evaluations(
    workspace_id: str, visible_user_ids: set[str] | None, limit: int = 50
) -> list[AutoApprovalEvaluation]:
    query = (
        sa.select(AutoApprovalEvaluation)
        .where(AutoApprovalEvaluation.workspace_id == workspace_id)
        .order_by(AutoApprovalEvaluation.id.desc())
        .limit(limit * 4 if visible_user_ids is not None else limit)
    )
    rows = list(db.session.scalars(query))
    if visible_user_ids is not None:
        rows = [r for r in rows if r.user_id in visible_user_ids][:limit]
    return rows


def rules_for(workspace_id: str) -> Rules:
    return Rules.from_settings(get_settings(workspace_id))


def run(
    installation: Installation,
    client: Any,
    fetched: list[tuple[RequestData, dict[str, Any]]],
    rules: Rules,
    *,
    trigger: str,
) -> list[AutoApprovalEvaluation]:
    """Evaluate pending requests (read from Clockify with their entries) and, live, approve those that pass.

    Clockify is read and written first and the database after, so no write transaction stays open
    across a call. Every evaluation is recorded, passing or not, dry run or live.
    """
    workspace_id = installation.workspace_id
    directory = load_directory(workspace_id, client, cache_key_for(installation))
    scheduled_by_period: dict[tuple[date, str], dict[str, int] | None] = {}
    outcomes: list[tuple[RequestData, dict[str, Any], Verdict, str, str]] = []
    for data, details in fetched:
        key = (data.period_start, data.time_zone)
        if key not in scheduled_by_period:
            period = Period(data.period_start, data.period_end, "CUSTOM")
            try:
                scheduled_by_period[key] = scheduled_seconds(client, period, data.time_zone)
            except ClockifyError as exc:
                log.info("workspace %s: scheduled hours unavailable (%s)", workspace_id, type(exc).__name__)
                scheduled_by_period[key] = None
        scheduled = scheduled_by_period[key]
        record = _transient(workspace_id, data, details)
        groups = {str(g.get("id")) for g in directory.groups_of(data.user_id)}
        verdict = evaluate(record, rules, None if scheduled is None else scheduled.get(data.user_id, 0), groups)
        if not verdict.passes:
            outcomes.append((data, details, verdict, "held", verdict.reason))
        elif rules.dry_run:
            outcomes.append((data, details, verdict, "would_approve", "dry run: every rule passed; nothing approved"))
        else:
            try:
                response = client.update_approval_request(data.clockify_id, state="APPROVED", note=approval_note(rules))
            except ClockifyError as exc:
                outcomes.append((data, details, verdict, "failed", f"Clockify refused: {getattr(exc, 'message', exc)}"))
                continue
            approved = parse_request(getattr(response, "raw", None) or {}) or data
            outcomes.append((approved, details, verdict, "approved", "approved with the note naming the rule"))
    evaluations = []
    for data, details, verdict, outcome, reason in outcomes:
        record = record_request(workspace_id, data, details)
        evaluations.append(record_evaluation(record, rules, verdict, trigger, outcome, reason))
        if outcome == "approved":
            audit.record(
                workspace_id,
                audit.Actor(None, ACTOR_NAME),
                "approval.auto_approve",
                "approval_request",
                record.clockify_id,
                {"rule": rules.name, "subject_name": record.user_name, "note": approval_note(rules)},
            )
    db.session.flush()
    return evaluations


def _transient(workspace_id: str, data: RequestData, details: dict[str, Any]) -> ApprovalRequestRecord:
    """An unsaved mirror row built from what Clockify said, to evaluate before anything is written."""
    return ApprovalRequestRecord(
        workspace_id=workspace_id,
        clockify_id=data.clockify_id,
        user_id=data.user_id,
        user_name=data.user_name,
        period_start=data.period_start,
        period_end=data.period_end,
        state=data.state,
        tracked_seconds=parse_duration(details.get("trackedTime")),
        billable_seconds=parse_duration(details.get("billableTime")),
        break_seconds=parse_duration(details.get("breakTime")),
        expense_total=0.0,
        entry_stats=entry_stats(details.get("entries"), data.time_zone),
        has_details=True,
    )
