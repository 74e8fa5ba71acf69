"""Every blueprint, in the order the factory registers them: the platform's routes, then each capability's."""

from __future__ import annotations

from .approvals.views import bp as approvals
from .billing.views import bp as billing
from .dashboard.views import bp as dashboard
from .platform.views import activity, lifecycle, meta, webhooks
from .scheduling.views import bp as scheduling
from .settings.views import bp as settings

BLUEPRINTS = (meta.bp, lifecycle.bp, webhooks.bp, settings, activity.bp, dashboard, approvals, scheduling, billing)
