"""Clockify clients for installations and their users: one kept session per workspace and host, paced, bounded."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import requests
from flask import Flask

from ..clockify import DEFAULT_RATE, ClockifyClient, Limiter, limiter_for, new_session
from ..crypto import DecryptionError, decrypt
from ..exceptions import AuthError
from ..extensions import once_per_app
from ..hosts import parse_hosts, require_allowed
from ..metrics import observe_clockify_call
from ..tokens import TokenContext, TokenKind, Verifier
from .installations import StepGuard
from .models import Installation

# A person is waiting for the page: retry once, briefly, then let the page say Clockify is unavailable
# (the patient defaults kept a page loading for 12 s against an unreachable Clockify). Background work
# keeps the client's defaults.
INTERACTIVE_RETRIES: dict[str, Any] = {"max_retries": 1, "backoff_cap": 1.0, "max_retry_after": 5.0}


class Clients:
    """Builds the Clockify clients of one process.

    A new `requests.Session` costs a TLS handshake and a CA bundle load (about 54 ms against a keep-alive
    HTTPS server), so each workspace and API host keeps one session across requests and jobs, shared by
    the installation's token and its users' tokens (the token travels per request). Sessions are kept for
    the `max_sessions` most recently used workspaces and dropped at DELETED or a reinstall.
    """

    def __init__(self, config: Mapping[str, Any], *, max_sessions: int = 256) -> None:
        self._rate = float(config.get("CLOCKIFY_RATE_LIMIT") or DEFAULT_RATE)
        # Every client is built here, so every token Closeout sends passes this allow-list (rule 3).
        self.api_hosts = parse_hosts(config.get("CLOCKIFY_API_HOSTS"))
        self._redis_url = config.get("REDIS_URL") or None
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[tuple[str, str], requests.Session] = OrderedDict()
        self._lock = threading.Lock()

    def limiter(self) -> Limiter:
        # One limiter per process (and one Redis bucket per workspace across processes when REDIS_URL is set).
        return limiter_for(self._rate, self._redis_url)

    def for_installation(self, installation: Installation, *, interactive: bool = False) -> ClockifyClient:
        """A client acting as the add-on (installation token), paced on the workspace's shared bucket."""
        return self._client(
            installation.workspace_id,
            installation.api_url,
            installation.reports_url,
            decrypt(installation.token_ciphertext),
            interactive,
        )

    def for_job(self, installation: Installation, guard: StepGuard | None = None) -> ClockifyClient:
        """The installation's client for a background job: every call first checks that the installation is
        still there and active (StepGuard), so a paused or removed workspace gets no further call."""
        return guarded(self.for_installation(installation), guard or StepGuard.of(installation))

    def for_user(self, ctx: TokenContext, installation: Installation, *, interactive: bool = True) -> ClockifyClient:
        """A client acting as the viewing user (their token, their permissions), hosts from the claims."""
        if not ctx.token or ctx.workspace_id != installation.workspace_id:
            raise ValueError("the user token does not belong to this installation")
        api_url = (ctx.backend_url or installation.api_url).rstrip("/")
        reports_url = (ctx.reports_url or installation.reports_url or "").rstrip("/") or None
        return self._client(installation.workspace_id, api_url, reports_url, ctx.token, interactive)

    def for_stored_token(
        self,
        ciphertext: str | None,
        installation: Installation,
        verifier: Verifier,
        *,
        margin: float,
        guard: StepGuard | None = None,
    ) -> tuple[ClockifyClient, float] | None:
        """A background job's client acting as the person who started it, from their stored (encrypted)
        token, and the token's expiry; None when the token is unreadable, foreign or valid for less than
        `margin` seconds (the job then waits for, or does without, a fresh one)."""
        if not ciphertext:
            return None
        try:
            token = decrypt(ciphertext)
            claims = verifier.verify(token, leeway=0)
        except (DecryptionError, AuthError):
            return None
        expires = float(claims.get("exp") or 0)
        if expires - time.time() < margin or claims.get("workspaceId") != installation.workspace_id:
            return None
        ctx = TokenContext(
            kind=TokenKind.USER,
            claims=claims,
            token=token,
            workspace_id=claims.get("workspaceId"),
            addon_id=claims.get("addonId"),
        )
        client = self.for_user(ctx, installation, interactive=False)
        return (guarded(client, guard) if guard is not None else client), expires

    def probe(self, workspace_id: str, api_url: str, token: str) -> ClockifyClient:
        """A one-off client for a token Closeout does not hold yet (INSTALLED's), failing fast."""
        client = self._client(workspace_id, api_url, None, token, interactive=True)
        client.timeout = (2.0, 3.0)
        client.max_retries = 0
        return client

    def forget(self, workspace_id: str) -> None:
        """Close and drop the workspace's sessions (DELETED, a reinstall)."""
        with self._lock:
            keys = [key for key in self._sessions if key[0] == workspace_id]
            dropped = [self._sessions.pop(key) for key in keys]
        for session in dropped:
            session.close()

    def close(self) -> None:
        with self._lock:
            dropped = list(self._sessions.values())
            self._sessions.clear()
        for session in dropped:
            session.close()

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def _client(
        self, workspace_id: str, api_url: str, reports_url: str | None, token: str, interactive: bool
    ) -> ClockifyClient:
        require_allowed(api_url, self.api_hosts, "the API URL")
        if reports_url:
            require_allowed(reports_url, self.api_hosts, "the reports URL")
        return ClockifyClient(
            api_url,
            reports_url,
            token,
            workspace_id,
            limiter=self.limiter(),
            session=self._session(workspace_id, api_url),
            observer=observe_clockify_call,  # calls by endpoint and status, rate-limiter waits (/metrics)
            **(INTERACTIVE_RETRIES if interactive else {}),
        )

    def _session(self, workspace_id: str, api_url: str) -> requests.Session:
        key = (workspace_id, api_url)
        evicted: list[requests.Session] = []
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = new_session()
                while len(self._sessions) > self._max_sessions:
                    evicted.append(self._sessions.popitem(last=False)[1])
            else:
                self._sessions.move_to_end(key)
        for old in evicted:
            old.close()
        return session


def guarded(client: ClockifyClient, guard: StepGuard) -> ClockifyClient:
    """`client`, checking `guard` before each of its calls."""
    client.before_send = guard
    return client


def clients_for(app: Flask) -> Clients:
    """The app's Clients, built from its config on first use."""
    return once_per_app(app, "closeout_clients", lambda app: Clients(app.config))
