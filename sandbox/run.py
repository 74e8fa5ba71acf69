"""`make run`: Closeout, its worker and the sandbox with the demo workspace, installed and ready to open."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import requests
from werkzeug.serving import make_server

from . import lifecycle
from .app import ROOT, create_sandbox

log = logging.getLogger("sandbox.run")

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class Child:
    """A child process in its own process group, so Ctrl-C reaches it only through us, and all of it stops."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)


def _flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "addon", *args]


def _has_worker(env: dict[str, str]) -> bool:
    """The worker command exists once background jobs do."""
    try:
        result = subprocess.run(
            _flask("worker", "--help"), cwd=ROOT, env=env, capture_output=True, timeout=STARTUP_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def _wait_healthy(url: str, child: Child) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with status {child.process.returncode} while starting")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{child.name} did not answer {url} within {STARTUP_TIMEOUT:.0f} s")


def sandbox_origins(port: int) -> list[str]:
    """The sandbox's own origins, allow-listed as Clockify hosts in development (and nowhere else)."""
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    addon_port = int(os.environ.get("ADDON_PORT", "5000"))
    sandbox_port = int(os.environ.get("SANDBOX_PORT", "5001"))
    addon_url = f"http://localhost:{addon_port}"
    sandbox_url = f"http://localhost:{sandbox_port}"
    instance = Path(os.environ.get("SANDBOX_INSTANCE") or ROOT / "instance" / "sandbox")

    overrides: dict[str, Any] = {
        "SANDBOX_BASE_URL": sandbox_url,
        "ADDON_URL": addon_url,
        "SANDBOX_INSTANCE": str(instance),
        "SANDBOX_PRIVATE_KEY": os.environ.get("SANDBOX_PRIVATE_KEY") or None,
        "SANDBOX_SEED": int(os.environ.get("SANDBOX_SEED", "42")),
        "SANDBOX_SIZE": os.environ.get("SANDBOX_SIZE", "demo"),
    }
    app = create_sandbox(overrides)
    sandbox = app.extensions["sandbox"]
    # Closeout trusts this key instead of Clockify's (written here too when the private key came from the env).
    public_key = instance / "sandbox-public.pem"
    public_key.parent.mkdir(parents=True, exist_ok=True)
    public_key.write_text(sandbox.signer.public_pem)

    env = {
        **os.environ,
        "ADDON_BASE_URL": addon_url,
        "CLOCKIFY_PUBLIC_KEY": str(public_key),
        # The sandbox's shell frames Closeout's components.
        "FRAME_ANCESTORS": f"http://localhost:{sandbox_port} http://127.0.0.1:{sandbox_port}",
        # Closeout sends tokens only to allow-listed hosts: Clockify's, and in development the sandbox.
        "CLOCKIFY_API_HOSTS": ",".join(
            [os.environ.get("CLOCKIFY_API_HOSTS") or "clockify.me,*.clockify.me", *sandbox_origins(sandbox_port)]
        ),
        "FLASK_DEBUG": os.environ.get("FLASK_DEBUG", "1"),
        "PYTHONUNBUFFERED": "1",
    }
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    children: list[Child] = []
    server = make_server("127.0.0.1", sandbox_port, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    try:
        closeout = Child(
            "Closeout", _flask("run", "--host", "127.0.0.1", "--port", str(addon_port), "--no-reload"), env
        )
        children.append(closeout)
        if _has_worker(env):
            children.append(Child("worker", _flask("worker"), env))
        else:
            log.info("no `flask --app addon worker` command yet: background jobs are not started")
        serving.start()
        _wait_healthy(f"http://127.0.0.1:{addon_port}/healthz", closeout)
        workspace_id = sandbox.demo_workspace_id
        lifecycle.install(sandbox, workspace_id)
        workspace = sandbox.world.workspaces.get(workspace_id)
        _banner(addon_url, sandbox_url, getattr(workspace, "name", workspace_id), children)
        while not stop.wait(0.5):
            dead = next((child for child in children if not child.alive()), None)
            if dead is not None:
                log.error("%s exited with status %s; stopping", dead.name, dead.process.returncode)
                return 1
        return 0
    except (RuntimeError, lifecycle.PlatformError) as exc:
        log.error("%s", exc)
        return 1
    finally:
        print("\nStopping…", flush=True)
        for child in reversed(children):
            child.stop()
        if serving.is_alive():
            server.shutdown()
        server.server_close()


def _banner(addon_url: str, sandbox_url: str, workspace: str, children: list[Child]) -> None:
    lines = [
        "",
        f"  Closeout     {addon_url}   (pid {children[0].process.pid})",
        f"  Worker       {f'running (pid {children[1].process.pid})' if len(children) > 1 else 'not available yet'}",
        f"  Sandbox      {sandbox_url}   demo workspace “{workspace}”, Closeout installed",
        "",
        f"  Open {sandbox_url}/approvals and pick a role in the top bar.  Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
