"""Clockify's reports API (reportsUrl): /reports/v1/…."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reports", __name__)
