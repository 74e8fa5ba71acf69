"""Reconciliation of one installation: Closeout's own checks, then every capability's reconciler, each on its own."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from . import webhook_registration
from .events import Reconciler
from .installations import JobStopped
from .models import Installation

log = logging.getLogger(__name__)

Step = Callable[[Installation, Any], Any]


def steps(base_url: str, reconcilers: Iterable[tuple[str, Reconciler]]) -> list[tuple[str, Step]]:
    """What reconciliation runs, in order: the ASSIGNMENT_* webhook check first, then the capabilities'
    (from handlers.RECONCILERS)."""

    def webhooks(installation: Installation, client: Any) -> Any:
        return webhook_registration.ensure_registered(installation, client, base_url)

    return [("webhooks", webhooks), *reconcilers]


def run(
    installation: Installation,
    client: Any,
    base_url: str,
    checkpoint: Callable[[bool], None],
    reconcilers: Iterable[tuple[str, Reconciler]] = (),
    stopped: Callable[[], bool] | None = None,
) -> dict[str, str]:
    """Run every step; `checkpoint(ok)` ends each step's transaction (commit, or roll back a failed step).

    One failing step (a feature the plan lacks, Clockify down) never stops the others; the next
    run tries again; a step that failed because the installation was paused or removed meanwhile
    (`stopped()`) ends the run. Returns step name → "ok" or the error, for logs and tests.
    """
    results: dict[str, str] = {}
    workspace_id = installation.workspace_id
    for name, step in steps(base_url, reconcilers):
        try:
            step(installation, client)
            checkpoint(True)
            results[name] = "ok"
        except JobStopped as stop:
            # Paused or removed meanwhile: no further step, no further call (ACTIVE reconciles again).
            checkpoint(False)
            results[name] = f"stopped: {stop.state}"
            log.info("reconciliation of workspace %s stopped: %s", workspace_id, stop.state)
            break
        except Exception as exc:
            checkpoint(False)
            if stopped is not None and stopped():
                results[name] = "stopped"
                log.info("reconciliation of workspace %s stopped: paused or removed meanwhile", workspace_id)
                break
            results[name] = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("reconciliation step %s failed for workspace %s: %s", name, workspace_id, type(exc).__name__)
    return results
