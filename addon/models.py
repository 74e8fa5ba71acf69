"""Every package's tables, imported together so db.metadata (migrations, DELETED's purge) sees all of them."""

from __future__ import annotations

from .approvals.models import ApprovalRequestRecord, AutoApprovalEvaluation, DecisionItem, DecisionJob
from .billing.models import (
    InvoiceJob,
    InvoiceJobStep,
    InvoiceLine,
    InvoiceNumber,
    InvoiceRecord,
    InvoiceSequence,
    RecurringRun,
)
from .dashboard.models import DashboardSnapshot
from .platform.models import (
    AuditEntry,
    EntityVersion,
    InboxEvent,
    Installation,
    LifecycleEvent,
    RemovedInstallation,
    UsedLifecycleToken,
    WebhookSubscription,
)
from .scheduling.models import ScheduleJob, ScheduleJobItem, ScheduleVersion
from .settings.models import SettingChange, WorkspaceSetting
from .workspace.models import PreferenceCache

__all__ = [
    "ApprovalRequestRecord",
    "AuditEntry",
    "AutoApprovalEvaluation",
    "DashboardSnapshot",
    "DecisionItem",
    "DecisionJob",
    "EntityVersion",
    "InboxEvent",
    "Installation",
    "InvoiceJob",
    "InvoiceJobStep",
    "InvoiceLine",
    "InvoiceNumber",
    "InvoiceRecord",
    "InvoiceSequence",
    "LifecycleEvent",
    "PreferenceCache",
    "RecurringRun",
    "RemovedInstallation",
    "ScheduleJob",
    "ScheduleJobItem",
    "ScheduleVersion",
    "SettingChange",
    "UsedLifecycleToken",
    "WebhookSubscription",
    "WorkspaceSetting",
]
