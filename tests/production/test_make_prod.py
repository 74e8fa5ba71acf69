"""`make prod`'s program: gunicorn and two consumers on PostgreSQL and Redis with the sandbox; Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from huey import RedisHuey

from tests.live import free_port, start_program
from tests.production.conftest import REDIS_URL, Database, require_services
from tests.sandbox.test_shell_make_run import _alive

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120


def test_make_prod_serves_the_installed_demo_and_stops_everything_on_ctrl_c(tmp_path):
    require_services()
    database = Database()
    addon_port, sandbox_port = free_port(), free_port()
    queue_name = f"closeout-make-prod-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k != "FLASK_DEBUG"}
    env.update(
        ADDON_PORT=str(addon_port),
        SANDBOX_PORT=str(sandbox_port),
        PROD_INSTANCE=str(tmp_path / "prod"),
        DATABASE_URL=database.url,
        REDIS_URL=REDIS_URL,
        QUEUE_NAME=queue_name,
        METRICS_TOKEN="make-prod-metrics-token",
    )
    process, output = start_program([sys.executable, "-m", "sandbox.prod"], env, ROOT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not any("Ctrl-C stops everything" in line for line in output):
            assert process.poll() is None, "".join(output)[-3000:]
            assert time.monotonic() < deadline, "".join(output)[-3000:]
            time.sleep(0.2)
        banner = "".join(output)
        children = {name: int(pid) for name, pid in re.findall(r"(gunicorn|consumer-\d) (\d+)", banner)}
        assert set(children) == {"gunicorn", "consumer-1", "consumer-2"}, banner

        url = f"http://127.0.0.1:{addon_port}"
        ready = requests.get(url + "/readyz", timeout=10).json()
        assert ready["checks"] == {"database": "ok", "queue": "ok", "redis": "ok"}
        assert database.scalar("SELECT count(*) FROM installations WHERE is_active") == 1
        bearer = {"Authorization": "Bearer make-prod-metrics-token"}
        metrics = requests.get(url + "/metrics", headers=bearer, timeout=10)
        assert 'route="/lifecycle/installed",status="200"' in metrics.text
        workers = _children(children)
        assert len(workers) == 2  # gunicorn's two workers

        process.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the foreground process
        assert process.wait(60) == 0
        assert [pid for pid in [*children.values(), *workers] if _alive(pid)] == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        RedisHuey(queue_name, url=REDIS_URL).flush()
        database.drop()


def _children(children: dict[str, int]) -> list[int]:
    """gunicorn's worker processes (children of its master)."""
    master = children["gunicorn"]
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                found.append(int(entry.name))
    return found
