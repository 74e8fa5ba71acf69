"""Background work: huey tasks for inbox processing and periodic reconciliation."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def enqueue_inbox_event(inbox_id: int) -> None:
    """Queue processing of one stored webhook delivery."""
    # Processing lands with the inbox worker; until then events wait in the inbox as "pending".
    log.debug("inbox event %s stored", inbox_id)
