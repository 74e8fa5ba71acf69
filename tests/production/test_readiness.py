"""/readyz against a Redis of its own and PostgreSQL behind a connection the test can cut: it names what failed,
and recovers when it returns. Migrations from two replicas at once leave one schema.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from addon import create_app
from tests.conftest import PG_ADMIN_URL
from tests.production.conftest import Database, free_port, require_services

ROOT = Path(__file__).resolve().parents[2]


class Redis:
    """A redis-server of the test's own on a free port: stopped and started again like a real outage."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is required for tests/production")
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class Link:
    """A TCP link to PostgreSQL that can be cut (every connection closed, nothing accepted) and restored.

    The shared PostgreSQL must keep serving everyone else; cutting the path to it is the outage the app sees.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._server: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)  # stops listening and wakes the accepting thread
            self._server.close()
            self._server = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def outage_app(tmp_path):
    require_services()
    redis_server = Redis()
    redis_server.start()
    target = sa.make_url(PG_ADMIN_URL)
    link = Link((target.host or "127.0.0.1", target.port or 5432))
    link.start()
    url = target.set(host="127.0.0.1", port=link.port).render_as_string(hide_password=False)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "QUEUE_URL": redis_server.url,
            "REDIS_URL": redis_server.url,
            "SECRET_KEY": "readiness",
        }
    )
    yield app, redis_server, link
    link.cut()
    redis_server.stop()


def ready(app):
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def test_readyz_names_what_stopped_and_recovers_when_it_returns(outage_app):
    app, redis_server, link = outage_app
    assert ready(app) == (
        200,
        {"status": "ready", "checks": {"database": "ok", "queue": "ok", "redis": "ok"}, "failing": []},
    )

    redis_server.stop()
    status, body = ready(app)
    assert status == 503
    assert body["failing"] == ["queue", "redis"] and body["checks"]["database"] == "ok"
    assert app.test_client().get("/healthz").status_code == 200  # alive: a restart would not help

    redis_server.start()
    assert ready(app)[0] == 200

    link.cut()
    status, body = ready(app)
    assert (status, body["failing"], body["status"]) == (503, ["database"], "unavailable")

    link.start()
    assert ready(app) == (
        200,
        {"status": "ready", "checks": {"database": "ok", "queue": "ok", "redis": "ok"}, "failing": []},
    )


def test_readyz_without_redis_configured_checks_the_database_and_queue(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "queue": "ok"}


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrations_run_by_two_replicas_at_once_leave_one_schema():
    require_services()
    database = Database()
    try:
        env = {k: v for k, v in os.environ.items() if k != "FLASK_DEBUG"}
        env.update(DATABASE_URL=database.url, SECRET_KEY="migrations-at-once", PYTHONPATH=str(ROOT))
        flask = [sys.executable, "-m", "flask", "--app", "addon", "db"]
        runs = [
            subprocess.Popen([*flask, "upgrade"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        # One of them migrated, the other found the schema at head once it held the lock.
        assert sorted("Running upgrade" in out for out in outputs) == [False, True], outputs
        assert database.rows("SELECT version_num FROM alembic_version") == [(head_revision(),)]
        check = subprocess.run([*flask, "check"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        database.drop()


def test_metrics_are_not_found_without_a_configured_token_whatever_is_sent(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer None"}).status_code == 404


def test_metrics_with_the_token_in_one_process(app_config):
    client = create_app({**app_config, "METRICS_TOKEN": "a-token-for-prometheus"}).test_client()
    client.get("/healthz")
    assert client.get("/metrics", headers={"Authorization": "Bearer a-token-for-prometheu"}).status_code == 404
    response = client.get("/metrics", headers={"Authorization": "Bearer a-token-for-prometheus"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert 'closeout_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
    assert "closeout_inbox_backlog 0.0" in response.text


def test_webhook_intake_is_counted_by_event_and_outcome(app, client, install):
    from tests.platform.inbox.support import approval_body, deliver

    app.config.update(METRICS_TOKEN="a-token-for-prometheus", WEBHOOK_RATE_PER_SECOND=0.4)  # a burst of two
    token = install()["webhook_tokens"]["NEW_APPROVAL_REQUEST"]
    event = "NEW_APPROVAL_REQUEST"

    def counts() -> Counter[str]:
        text = client.get("/metrics", headers={"Authorization": "Bearer a-token-for-prometheus"}).text
        found: Counter[str] = Counter()
        for row in text.splitlines():
            if row.startswith(f'closeout_webhook_deliveries_total{{event="{event}",outcome="'):
                found[row.split('outcome="', 1)[1].split('"', 1)[0]] += float(row.rsplit(" ", 1)[-1])
        return found

    # The registry is the process's (earlier tests count too): compare before and after.
    before = counts()
    answers = [deliver(client, token, event, approval_body(f"req-{n}")).status_code for n in range(3)]
    assert answers == [202, 202, 429]
    assert deliver(client, "not-a-token", event, approval_body("req-x")).status_code == 401
    after = counts()
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {
        "accepted": 2,
        "limited": 1,
        "refused": 1,
    }
