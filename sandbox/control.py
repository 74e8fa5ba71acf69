"""The control API tests use to shape the sandbox: faults, request log, reset, webhook replay."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("control", __name__)
