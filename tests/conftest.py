"""Shared fixtures: the app on a migrated database (SQLite or PostgreSQL), a key pair, a token factory."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from addon import create_app
from addon.extensions import db

pytest_plugins = ["tests.sandbox_fixtures", "tests.browser_fixtures"]

ADDON_KEY = "closeout"
WORKSPACE_ID = "ws-alpha-0001"
OTHER_WORKSPACE_ID = "ws-bravo-0002"
ADDON_ID = "addon-inst-0001"
OWNER_ID = "user-owner-0001"

# Which database the suite runs on: `sqlite` (default) or `postgresql` (CLOSEOUT_TEST_DB).
TEST_DB = os.environ.get("CLOSEOUT_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("CLOSEOUT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def key_pair() -> tuple[Any, str]:
    """A throwaway RSA key pair standing in for Clockify's signing key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public_pem


@pytest.fixture(scope="session")
def make_token(key_pair: tuple[Any, str]) -> Callable[..., str]:
    """make_token(kind, **claims): a Clockify-shaped RS256 token; kind picks sensible default claims."""
    private, _ = key_pair

    def factory(kind: str = "user", *, key: Any = None, algorithm: str = "RS256", **claims: Any) -> str:
        now = int(time.time())
        base: dict[str, Any] = {"iss": "clockify", "sub": ADDON_KEY, "type": "addon", "iat": now}
        if kind in ("user", "installation"):
            base.update(
                workspaceId=WORKSPACE_ID,
                addonId=ADDON_ID,
                user=OWNER_ID,
                backendUrl="http://clockify.invalid/api",
                reportsUrl="http://reports.clockify.invalid",
            )
        if kind == "user":
            base.update(workspaceRole="OWNER", language="EN", theme="DEFAULT", exp=now + 1800)
        if kind in ("lifecycle", "webhook"):
            base.update(workspaceId=WORKSPACE_ID, addonId=ADDON_ID)
        if kind == "lifecycle":
            base.update(jti=uuid.uuid4().hex)  # each lifecycle call is signed anew (a token is used once)
        base.update(claims)
        base = {k: v for k, v in base.items() if v is not None}
        return jwt.encode(base, key if key is not None else private, algorithm=algorithm)

    return factory


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for this test session, built by running the migrations."""
    if TEST_DB == "postgresql":
        name = f"closeout_test_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    elif TEST_DB == "sqlite":
        admin = None
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'closeout.sqlite3'}"
    else:
        raise pytest.UsageError(f"CLOSEOUT_TEST_DB must be sqlite or postgresql, not {TEST_DB!r}")

    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "migrations"})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def app_config(database_url: str, key_pair: tuple[Any, str], tmp_path: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        "SECRET_KEY": "test-secret-key",
        "CLOCKIFY_PUBLIC_KEY": key_pair[1],
        "ADDON_BASE_URL": "http://addon.test",
        "ADDON_KEY": ADDON_KEY,
        # The hosts the tokens of make_token name, besides Clockify's own.
        "CLOCKIFY_API_HOSTS": "clockify.me,*.clockify.me,http://clockify.invalid,http://reports.clockify.invalid",
        # A page's budget for Clockify calls is a production safeguard against a slow Clockify; here the
        # sandbox is local but the machine may be loaded, so tests that are not about the budget get room.
        # Tests of the budget set their own.
        "CLOCKIFY_PAGE_BUDGET_SECONDS": 30.0,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        # Empty every table so tests stay independent without re-running the migrations.
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        for engine in db.engines.values():  # the default engine and intake's
            engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def installed_body(workspace_id: str = WORKSPACE_ID, addon_id: str = ADDON_ID, **extra: Any) -> dict[str, Any]:
    return {
        "addonId": addon_id,
        "workspaceId": workspace_id,
        "asUser": OWNER_ID,
        "apiUrl": "http://clockify.invalid/api",
        "addonUserId": "addon-user-0001",
        **extra,
    }


@pytest.fixture
def install(client: FlaskClient, make_token: Callable[..., str]) -> Callable[..., dict[str, Any]]:
    """install(workspace_id=…): send a signed INSTALLED with a webhook token per manifest webhook."""
    from addon.manifest import webhook_paths

    def do(workspace_id: str = WORKSPACE_ID, addon_id: str = ADDON_ID) -> dict[str, Any]:
        webhook_tokens = {
            event: make_token("webhook", workspaceId=workspace_id, addonId=addon_id, nonce=uuid.uuid4().hex)
            for event in webhook_paths()
        }
        body = installed_body(
            workspace_id,
            addon_id,
            authToken=make_token("installation", workspaceId=workspace_id, addonId=addon_id),
            webhooks=[
                {"path": "http://addon.test" + path, "webhookType": "ADDON", "authToken": webhook_tokens[event]}
                for event, path in webhook_paths().items()
            ],
        )
        response = client.post(
            "/lifecycle/installed",
            json=body,
            headers={"X-Addon-Lifecycle-Token": make_token("lifecycle", workspaceId=workspace_id, addonId=addon_id)},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return {"body": body, "webhook_tokens": webhook_tokens}

    return do
