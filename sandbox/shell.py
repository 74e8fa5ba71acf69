"""The host shell: a Clockify-like page that installs, embeds and drives Closeout."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("shell", __name__)
