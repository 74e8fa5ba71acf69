"""`make run`'s program: Closeout, its worker and the sandbox start, the shell shows Closeout, Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from html import unescape
from pathlib import Path

import pytest
import requests

from tests.live import free_port, start_program

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); only a running process counts.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] != "Z"


@pytest.fixture
def running(tmp_path):
    """`python -m sandbox.run` on free ports with its own database, key pair and queue."""
    addon_port, sandbox_port = free_port(), free_port()
    env = {
        **os.environ,
        "ADDON_PORT": str(addon_port),
        "SANDBOX_PORT": str(sandbox_port),
        "SANDBOX_INSTANCE": str(tmp_path / "sandbox"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'closeout.sqlite3'}",
        "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        "SECRET_KEY": "make-run-test",
        "FLASK_DEBUG": "1",
    }
    migrate = [sys.executable, "-m", "flask", "--app", "addon", "db", "upgrade"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True, capture_output=True, timeout=START_TIMEOUT)
    process, output = start_program([sys.executable, "-m", "sandbox.run"], env, ROOT)
    deadline = time.monotonic() + START_TIMEOUT
    while not any("Ctrl-C stops everything" in line for line in output):
        assert process.poll() is None, "".join(output)
        assert time.monotonic() < deadline, "".join(output)
        time.sleep(0.1)
    yield {"process": process, "output": output, "sandbox": f"http://localhost:{sandbox_port}"}
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_make_run_shows_closeout_installed_and_stops_everything_on_ctrl_c(running):
    process, output, sandbox = running["process"], running["output"], running["sandbox"]
    banner = "".join(output)
    children = [int(pid) for pid in re.findall(r"pid (\d+)", banner)]
    assert children, banner

    # Every surface loads inside the host page with a valid token.
    for path in ("/addons/closeout", "/approvals?tab=addon-approvals.tab", "/settings/addons?open=settings"):
        html = requests.get(sandbox + path, timeout=10).text
        (src,) = re.findall(r'data-component="[^"]+"[^>]*?src="([^"]+)"', html, re.S)
        assert requests.get(unescape(src), timeout=10).status_code == 200, path

    process.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the foreground process

    assert process.wait(30) == 0
    assert [pid for pid in children if _alive(pid)] == []
