"""Fixtures that run the sandbox and a live Closeout over real HTTP (loaded by conftest as a plugin)."""

from __future__ import annotations
