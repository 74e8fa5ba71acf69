"""Installations: the lifecycle of Closeout on a workspace and the tokens it holds."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from .. import hosts, inputs
from ..crypto import DecryptionError, decrypt, digest, encrypt, same_secret
from ..exceptions import AuthError, BadRequestError, PayloadError
from ..extensions import db
from ..tokens import TokenContext
from .models import Installation, LifecycleEvent, RemovedInstallation, UsedLifecycleToken, WebhookSubscription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstalledPayload:
    workspace_id: str
    addon_id: str
    auth_token: str
    api_url: str
    as_user: str | None
    addon_user_id: str | None
    webhooks: list[dict[str, Any]]


def record_lifecycle(workspace_id: str, event_type: str, body: dict[str, Any]) -> None:
    """Keep the raw lifecycle body (encrypted: INSTALLED carries tokens) before acting on it."""
    db.session.add(
        LifecycleEvent(
            workspace_id=workspace_id,
            event_type=event_type,
            payload_ciphertext=encrypt(json.dumps(body, sort_keys=True)),
        )
    )


# Bounds of an INSTALLED body: the columns it lands in, and far more than Clockify sends.
TOKEN_MAX = 8192
WEBHOOKS_MAX = 100
SETTINGS_MAX_BYTES = 64 * 1024


def parse_installed(body: dict[str, Any], api_hosts: tuple[str, ...]) -> InstalledPayload:
    """Validate an INSTALLED body (docs/clockify.md#lifecycle); unknown fields are ignored.

    Strict: ids are id-shaped text, tokens and URLs bounded, and apiUrl an allow-listed Clockify host
    (CLOCKIFY_API_HOSTS): every installation-token call goes there.
    """
    missing = [k for k in ("workspaceId", "addonId", "authToken", "apiUrl") if not _nonempty_str(body.get(k))]
    if missing:
        raise PayloadError("missing or empty: " + ", ".join(missing))
    try:
        workspace_id = str(inputs.identifier(body["workspaceId"], "workspaceId"))
        addon_id = str(inputs.identifier(body["addonId"], "addonId"))
        auth_token = str(inputs.text(body["authToken"], "authToken", max_length=TOKEN_MAX))
        as_user = inputs.identifier(body.get("asUser"), "asUser", required=False)
        addon_user_id = inputs.identifier(body.get("addonUserId"), "addonUserId", required=False)
    except BadRequestError as exc:
        raise PayloadError(exc.message) from exc
    api_url = body["apiUrl"].rstrip("/")
    if urlsplit(api_url).scheme not in ("http", "https"):
        raise PayloadError("apiUrl must be an http(s) URL")
    try:
        hosts.require_allowed(api_url, api_hosts, "apiUrl")
    except hosts.UntrustedHostError as exc:
        raise PayloadError(exc.message) from exc
    webhooks = body.get("webhooks") or []
    if not isinstance(webhooks, list) or not all(isinstance(w, dict) for w in webhooks):
        raise PayloadError("webhooks must be a list of objects")
    if len(webhooks) > WEBHOOKS_MAX:
        raise PayloadError(f"webhooks lists more than {WEBHOOKS_MAX} entries")
    # A reinstall replaces the stored webhook tokens: refuse the whole body rather than keep a partial set.
    for hook in webhooks:
        token, path = hook.get("authToken"), hook.get("path") or hook.get("url")
        if not _nonempty_str(token) or not _nonempty_str(path):
            raise PayloadError("every webhooks entry needs a path and an authToken")
        if len(token) > TOKEN_MAX or len(path) > hosts.MAX_URL_LENGTH:
            raise PayloadError("a webhooks entry is longer than Closeout stores")
    return InstalledPayload(
        workspace_id=workspace_id,
        addon_id=addon_id,
        auth_token=auth_token,
        api_url=api_url,
        as_user=as_user,
        addon_user_id=addon_user_id,
        webhooks=webhooks,
    )


def token_urls(claims: dict[str, Any], api_hosts: tuple[str, ...]) -> None:
    """The API hosts a token names (backendUrl, reportsUrl) must be allow-listed, like apiUrl."""
    for name in ("backendUrl", "reportsUrl"):
        value = claims.get(name)
        if value is not None:
            hosts.require_allowed(value.rstrip("/") if isinstance(value, str) else value, api_hosts, name)


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def install(
    payload: InstalledPayload,
    *,
    token_claims: dict[str, Any],
    manifest_webhooks: dict[str, str],
) -> Installation:
    """Create or refresh the workspace's installation; a reinstall replaces tokens and keeps settings."""
    installation = db.session.scalar(
        db.select(Installation).filter_by(workspace_id=payload.workspace_id).with_for_update()
    )
    if installation is None:
        installation = Installation(workspace_id=payload.workspace_id)
        db.session.add(installation)
    installation.addon_id = payload.addon_id
    installation.api_url = payload.api_url
    installation.reports_url = _claim_url(token_claims, "reportsUrl")
    installation.token_ciphertext = encrypt(payload.auth_token)
    installation.as_user = payload.as_user
    installation.addon_user_id = payload.addon_user_id
    installation.is_active = True
    installation.installed_at = datetime.now(UTC)

    db.session.execute(
        sa.delete(WebhookSubscription).where(
            WebhookSubscription.workspace_id == payload.workspace_id,
            WebhookSubscription.source == "manifest",
        )
    )
    for event_type, path, token in _match_webhooks(payload.webhooks, manifest_webhooks):
        subscription = WebhookSubscription(
            workspace_id=payload.workspace_id, event_type=event_type, source="manifest", path=path
        )
        subscription.set_token(token)
        db.session.add(subscription)
    db.session.flush()
    return installation


def _claim_url(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value.rstrip("/") if isinstance(value, str) and value else None


def _match_webhooks(webhooks: list[dict[str, Any]], manifest_webhooks: dict[str, str]) -> list[tuple[str, str, str]]:
    """Pair each INSTALLED webhook with its manifest event.

    The INSTALLED sample gives `path` as a full URL, the webhooks page as the manifest path
    (docs/clockify.md#lifecycle), so match on the URL's path either way; an explicit event field,
    when Clockify sends one, wins.
    """
    by_path = {path: event for event, path in manifest_webhooks.items()}
    matched: dict[str, tuple[str, str, str]] = {}
    for hook in webhooks:
        token = hook.get("authToken")
        if not isinstance(token, str) or not token.strip():
            continue
        event = hook.get("webhookEvent") or hook.get("event")
        path = urlsplit(str(hook.get("path") or hook.get("url") or "")).path.rstrip("/")
        if not (isinstance(event, str) and event in manifest_webhooks):
            event = by_path.get(path) or next((ev for p, ev in by_path.items() if path.endswith(p)), None)
        if event:
            matched[event] = (event, manifest_webhooks[event], token)
    return list(matched.values())


def set_status(installation: Installation, status: Any) -> None:
    """STATUS_CHANGED: ACTIVE resumes, INACTIVE pauses every component, webhook and job."""
    if not isinstance(status, str) or status not in ("ACTIVE", "INACTIVE"):
        raise PayloadError("status must be ACTIVE or INACTIVE")
    installation.is_active = status == "ACTIVE"
    installation.status_changed_at = datetime.now(UTC)


def store_clockify_settings(installation: Installation, settings: Any) -> None:
    """SETTINGS_UPDATED: Closeout's settings are self-hosted, but keep what Clockify sends (bounded)."""
    if settings is not None and not isinstance(settings, list | dict):
        raise PayloadError("settings must be a list or an object")
    if len(json.dumps(settings)) > SETTINGS_MAX_BYTES:
        raise PayloadError("settings are larger than Closeout keeps")
    installation.clockify_settings = settings
    installation.settings_updated_at = datetime.now(UTC)


def uninstall(workspace_id: str, addon_id: str | None) -> int:
    """DELETED: remove every row of every table that holds this workspace's data, and keep a tombstone of
    the installation so its tokens are never accepted again (M-2).

    The installation row is locked first: a request that writes for the workspace (a settings save)
    either finishes before the purge, which then removes what it wrote, or finds the installation gone.
    """
    db.session.execute(
        sa.select(Installation.id).where(Installation.workspace_id == workspace_id).with_for_update()
    ).all()
    if addon_id and not is_removed(addon_id):
        db.session.add(RemovedInstallation(addon_id=addon_id[:64]))
    removed = 0
    for table in reversed(workspace_tables()):
        result = db.session.execute(sa.delete(table).where(table.c.workspace_id == workspace_id))
        removed += getattr(result, "rowcount", 0) or 0
    return removed


def is_removed(addon_id: str | None) -> bool:
    """Whether DELETED removed the installation with this addonId."""
    if not addon_id:
        return False
    return db.session.scalar(sa.select(RemovedInstallation.id).filter_by(addon_id=addon_id).limit(1)) is not None


def lock_active(workspace_id: str) -> Installation | None:
    """The workspace's installation, locked until commit, if it is still there and active.

    A request that writes for a workspace calls this in its transaction: DELETED locks the same row
    before purging, so the two never interleave (M-4).
    """
    installation = db.session.scalar(
        sa.select(Installation)
        .filter_by(workspace_id=workspace_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return installation if installation is not None and installation.is_active else None


def consume_lifecycle_token(token: str, claims: dict[str, Any], max_age_seconds: float) -> None:
    """Accept a lifecycle token once: it must be recent, and is remembered until it expires (L-4).

    Flushed at once so that of two requests racing with one token, the second is refused here (the
    unique digest) rather than at its commit.
    """
    now = datetime.now(UTC)
    exp, iat = claims.get("exp"), claims.get("iat")
    if exp is not None:
        expires_at: datetime | None = datetime.fromtimestamp(float(exp), UTC)
    elif iat is not None:
        issued = datetime.fromtimestamp(float(iat), UTC)
        if (now - issued).total_seconds() > max_age_seconds:
            raise AuthError("lifecycle token is too old")
        expires_at = issued + timedelta(seconds=max_age_seconds)
    else:
        expires_at = None  # never expires: remembered for good
    token_key = digest(token)
    used = sa.select(UsedLifecycleToken.id).filter_by(token_digest=token_key).limit(1)
    if db.session.scalar(used) is not None:
        raise AuthError("lifecycle token was already used")
    try:
        with db.session.begin_nested():
            db.session.add(UsedLifecycleToken(token_digest=token_key, expires_at=expires_at))
    except sa.exc.IntegrityError as exc:
        raise AuthError("lifecycle token was already used") from exc


def moves_installation(installation: Installation, payload: InstalledPayload) -> bool:
    """Whether INSTALLED would move the workspace's installation to another addonId or API host."""
    return installation.addon_id != payload.addon_id or _host(installation.api_url) != _host(payload.api_url)


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def prune_used_tokens(now: datetime | None = None) -> int:
    """Forget used lifecycle tokens that have expired (they no longer verify anyway)."""
    result = db.session.execute(
        sa.delete(UsedLifecycleToken).where(UsedLifecycleToken.expires_at < (now or datetime.now(UTC)))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def active_installations() -> list[Installation]:
    return list(db.session.scalars(db.select(Installation).filter_by(is_active=True)))


def find(workspace_id: str | None) -> Installation | None:
    """The stored installation of a workspace, if any."""
    if not workspace_id:
        return None
    return db.session.scalar(db.select(Installation).filter_by(workspace_id=workspace_id))


def token_digest(token: str) -> str:
    """The keyed digest a stored webhook token is looked up by."""
    return digest(token)


def refuse_stored_tokens(token: str, workspace_id: str, installation: Installation | None) -> None:
    """A lifecycle token is never one Closeout already holds for another purpose.

    Every Clockify token shares iss/sub/type, and webhook tokens (which never expire) can be read by the
    workspace's admins through the Webhooks API: without this, one would pass as a lifecycle token.
    """
    reused = db.session.scalar(
        sa.select(WebhookSubscription.id)
        .where(WebhookSubscription.workspace_id == workspace_id, WebhookSubscription.token_digest == digest(token))
        .limit(1)
    )
    if reused is not None:
        raise AuthError("a webhook token is not accepted as a lifecycle token")
    if installation is not None:
        try:
            if same_secret(decrypt(installation.token_ciphertext), token):
                raise AuthError("the installation token is not accepted as a lifecycle token")
        except DecryptionError:
            log.error("installation token for workspace %s cannot be decrypted", workspace_id)


@dataclass(frozen=True)
class WebhookTarget:
    """The installation a verified delivery belongs to, as much of it as intake needs."""

    workspace_id: str
    is_active: bool


def webhook_target(ctx: TokenContext, event_type: str, token_digest: str) -> WebhookTarget:
    """The installation whose stored subscription for `event_type` has this token, or a 401."""
    row = db.session.execute(
        sa.select(Installation.is_active, Installation.addon_id)
        .join(WebhookSubscription, WebhookSubscription.workspace_id == Installation.workspace_id)
        .where(
            Installation.workspace_id == ctx.workspace_id,
            WebhookSubscription.event_type == event_type,
            WebhookSubscription.token_digest == token_digest,
        )
        .limit(1)
    ).first()
    if row is None:
        raise AuthError("token does not match a stored webhook of an installed workspace")
    if ctx.addon_id and ctx.addon_id != row.addon_id:
        raise AuthError("token belongs to another installation")
    return WebhookTarget(workspace_id=str(ctx.workspace_id), is_active=bool(row.is_active))


def workspace_tables() -> list[sa.Table]:
    """Every table that holds workspace data (has a workspace_id column): what DELETED must empty."""
    return [t for t in db.metadata.sorted_tables if "workspace_id" in t.c]


# --- Background jobs: re-check the installation before every step (rule 6) ---------------------------

GO = "go"
PAUSED = "paused"
REMOVED = "removed"
REINSTALLED = "reinstalled"


class JobStopped(Exception):
    """A background job must not make its next call: Closeout was paused on the workspace (the job holds
    and goes on when it is ACTIVE again), removed (it ends quietly: its rows are gone with the workspace),
    or reinstalled under another addonId (the tokens the job holds belong to the old installation)."""

    def __init__(self, state: str, workspace_id: str) -> None:
        super().__init__(f"Closeout is {state} on workspace {workspace_id}")
        self.state = state
        self.workspace_id = workspace_id

    @property
    def paused(self) -> bool:
        return self.state == PAUSED


def job_state(workspace_id: str, addon_id: str | None, engine: sa.Engine | None = None) -> str:
    """What a job of this installation may do now: GO, PAUSED, REMOVED or REINSTALLED.

    Read on a connection of its own, outside the job's transaction, so a job always sees the latest
    STATUS_CHANGED or DELETED however long its own transaction has been open.
    """
    with (engine or db.engine).connect() as conn:
        row = conn.execute(
            sa.select(Installation.addon_id, Installation.is_active).where(Installation.workspace_id == workspace_id)
        ).first()
    if row is None:
        return REMOVED
    if addon_id is not None and row.addon_id != addon_id:
        return REINSTALLED
    return GO if row.is_active else PAUSED


# How long a job refused with 401/403 waits for a STATUS_CHANGED or DELETED that may be on its way.
REFUSAL_GRACE_SECONDS = 3.0


class StepGuard:
    """The one check every step of a background job makes: before each Clockify call (as the client's
    `before_send`) and before each commit. Raises JobStopped unless the installation the job started
    under is still there and active."""

    def __init__(self, workspace_id: str, addon_id: str | None = None) -> None:
        self.workspace_id = workspace_id
        self.addon_id = addon_id  # None: any installation of the workspace will do
        self._engine = db.engine  # captured: the client may call from a thread with no app context

    @classmethod
    def of(cls, installation: Installation) -> StepGuard:
        return cls(installation.workspace_id, installation.addon_id)

    def state(self) -> str:
        return job_state(self.workspace_id, self.addon_id, self._engine)

    def __call__(self) -> None:
        state = self.state()
        if state != GO:
            raise JobStopped(state, self.workspace_id)

    def stopped_by(self, exc: BaseException) -> None:
        """After a failed call: raise JobStopped when the installation is paused or gone, since Clockify
        refuses a paused add-on (403) and a removed one's tokens (401). Clockify refuses from the moment it
        pauses or removes, a little before its STATUS_CHANGED or DELETED reaches Closeout: a 401 or 403 is
        judged only after waiting up to REFUSAL_GRACE_SECONDS for that call. Otherwise return: the failure
        is the call's own."""
        refused = getattr(exc, "status", None) in (401, 403)
        deadline = time.monotonic() + (REFUSAL_GRACE_SECONDS if refused else 0)
        while True:
            state = self.state()
            if state != GO:
                raise JobStopped(state, self.workspace_id) from exc
            if time.monotonic() >= deadline:
                return
            time.sleep(0.1)

    def commit(self) -> None:
        """Commit a step's writes only while the installation is still there (paused is fine: the call was
        made, its result is kept). The installation row is locked first, as DELETED locks it before purging,
        so a purge never interleaves with the step; a purge that came first leaves nothing to write."""
        try:
            with db.session.no_autoflush:
                addon_id = db.session.scalar(
                    sa.select(Installation.addon_id).filter_by(workspace_id=self.workspace_id).with_for_update()
                )
            if addon_id is None or self.addon_id not in (None, addon_id):
                raise JobStopped(REMOVED if addon_id is None else REINSTALLED, self.workspace_id)
            db.session.commit()
        except StaleDataError:
            # The rows the step updates were purged under it (a database that ignores FOR UPDATE).
            db.session.rollback()
            raise JobStopped(REMOVED, self.workspace_id) from None
        except JobStopped:
            db.session.rollback()
            raise


def paused_workspace_jobs(model: Any, workspace_id: str) -> list[int]:
    """Ids of a job table's rows that a pause held on this workspace (their status is PAUSED)."""
    return list(
        db.session.scalars(sa.select(model.id).filter_by(workspace_id=workspace_id, status=PAUSED).order_by(model.id))
    )
