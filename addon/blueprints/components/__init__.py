"""The iframe components Clockify embeds, one module (and blueprint) per surface."""

from __future__ import annotations

from flask import Blueprint


def blueprints() -> list[Blueprint]:
    from . import approvals, invoices, schedule, sidebar

    return [sidebar.bp, approvals.bp, schedule.bp, invoices.bp]
