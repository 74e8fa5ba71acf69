"""Fixtures for inbox tests: an installed workspace whose webhook tokens are known."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def webhook_tokens(install: Callable[..., dict[str, Any]]) -> dict[str, str]:
    """Install on the test workspace; event type → the token Clockify signs that webhook's deliveries with."""
    return install()["webhook_tokens"]
