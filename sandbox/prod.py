"""`make prod`: Closeout as production runs it, on this machine, against the sandbox.

gunicorn (gunicorn.conf.py, 2 workers) on PostgreSQL, two huey consumers on Redis (the first with the
periodic tasks, the second `--no-periodic`), Redis for the shared rate limiter, migrations at start, no
FLASK_DEBUG: production mode, JSON logs. `Stack` is the same thing for tests/production and the benchmarks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from . import lifecycle
from .app import ROOT, create_sandbox
from .run import sandbox_origins

log = logging.getLogger("sandbox.prod")

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/closeout_prod"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
BIN = Path(sys.executable).parent


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` if it does not exist yet."""
    target = sa.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
            if exists.first() is None:
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


@dataclass
class Process:
    """A child in its own process group (a signal reaches gunicorn's workers or the consumer's threads too)."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path | None = None
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> Process:
        out: Any = None
        if self.log_path is not None:
            self._log = self.log_path.open("ab")
            out = self._log
        self.popen = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def send(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen is not None and self.alive():
            self.send(sig)
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.send(signal.SIGKILL)
                self.popen.wait(STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Stack:
    """Closeout's production processes: migrate, then gunicorn and the consumers."""

    port: int
    env: dict[str, str]
    log_dir: Path | None = None
    web_workers: int = 2
    consumers: int = 2
    consumer_threads: int = 2
    processes: list[Process] = field(default_factory=list)

    @classmethod
    def build(cls, port: int, settings: Mapping[str, str], log_dir: Path | None = None, **kwargs: Any) -> Stack:
        """Environment for every process: the caller's, minus debug switches, plus `settings`."""
        env = {k: v for k, v in os.environ.items() if k not in ("FLASK_DEBUG", "TESTING", "PROMETHEUS_MULTIPROC_DIR")}
        env.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), "ADDON_BASE_URL": f"http://127.0.0.1:{port}"})
        env.update(settings)
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
        return cls(port=port, env=env, log_dir=log_dir, **kwargs)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _log(self, name: str) -> Path | None:
        return self.log_dir / f"{name}.log" if self.log_dir is not None else None

    def migrate(self) -> None:
        result = subprocess.run(
            [str(BIN / "flask"), "--app", "addon", "db", "upgrade"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=STARTUP_TIMEOUT * 2,
        )
        if result.returncode != 0:
            raise RuntimeError("migrations failed: " + result.stderr[-2000:])

    def start(self) -> Stack:
        # Metrics of every process of this machine in one place (gunicorn.conf.py would make one for itself),
        # emptied at start as a deploy would.
        multiproc = self.env.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", str((self.log_dir or ROOT / "instance") / "metrics")
        )
        Path(multiproc).mkdir(parents=True, exist_ok=True)
        for stale in Path(multiproc).glob("*.db"):
            stale.unlink()
        self.migrate()
        web_env = dict(self.env, GUNICORN_WORKERS=str(self.web_workers), GUNICORN_BIND=f"127.0.0.1:{self.port}")
        args = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
        self.processes.append(Process("gunicorn", args, web_env, self._log("gunicorn")).start())
        for n in range(self.consumers):
            self.processes.append(self.consumer(n).start())
        self.wait_ready()
        return self

    def consumer(self, n: int) -> Process:
        """Consumer n: the first runs the periodic tasks (one scheduler is enough), the others do not."""
        args = [str(BIN / "flask"), "--app", "addon", "worker", "--workers", str(self.consumer_threads)]
        if n > 0:
            args.append("--no-periodic")
        return Process(f"consumer-{n + 1}", args, self.env, self._log(f"consumer-{n + 1}"))

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = next((p for p in self.processes if not p.alive()), None)
            if dead is not None:
                raise RuntimeError(
                    f"{dead.name} exited with status {dead.popen and dead.popen.returncode} while starting"
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"Closeout did not answer {self.url}/readyz within {timeout:.0f} s")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def _instance_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    addon_port = int(os.environ.get("ADDON_PORT", "5000"))
    sandbox_port = int(os.environ.get("SANDBOX_PORT", "5001"))
    sandbox_url = f"http://localhost:{sandbox_port}"
    instance = Path(os.environ.get("PROD_INSTANCE") or ROOT / "instance" / "prod")  # keys, secrets, metrics
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL

    app = create_sandbox(
        {
            "SANDBOX_BASE_URL": sandbox_url,
            "ADDON_URL": f"http://127.0.0.1:{addon_port}",
            "SANDBOX_INSTANCE": str(instance / "sandbox"),
            "SANDBOX_SEED": int(os.environ.get("SANDBOX_SEED", "42")),
            "SANDBOX_SIZE": os.environ.get("SANDBOX_SIZE", "demo"),
        }
    )
    sandbox = app.extensions["sandbox"]
    public_key = instance / "sandbox-public.pem"
    public_key.parent.mkdir(parents=True, exist_ok=True)
    public_key.write_text(sandbox.signer.public_pem)
    metrics_token = os.environ.get("METRICS_TOKEN") or _instance_secret(instance / "metrics_token")

    ensure_database(database_url)
    stack = Stack.build(
        addon_port,
        {
            "DATABASE_URL": database_url,
            "QUEUE_URL": os.environ.get("QUEUE_URL") or redis_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": os.environ.get("SECRET_KEY") or _instance_secret(instance / "secret_key"),
            "METRICS_TOKEN": metrics_token,
            "CLOCKIFY_PUBLIC_KEY": str(public_key),
            "CLOCKIFY_API_HOSTS": ",".join(
                [os.environ.get("CLOCKIFY_API_HOSTS") or "clockify.me,*.clockify.me", *sandbox_origins(sandbox_port)]
            ),
            "FRAME_ANCESTORS": f"http://localhost:{sandbox_port} http://127.0.0.1:{sandbox_port}",
            "PROMETHEUS_MULTIPROC_DIR": str(instance / "metrics"),
        },
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = make_server("127.0.0.1", sandbox_port, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    try:
        serving.start()
        stack.start()
        workspace_id = sandbox.demo_workspace_id
        lifecycle.install(sandbox, workspace_id)
        pids = ", ".join(f"{p.name} {p.pid}" for p in stack.processes)
        print(
            "\n".join(
                [
                    "",
                    f"  Closeout     {stack.url}   gunicorn 2 workers, 2 consumers ({pids})",
                    f"  Database     {sa.make_url(database_url).render_as_string(hide_password=True)}",
                    f"  Queue/Redis  {redis_url}",
                    f"  Sandbox      {sandbox_url}   demo workspace installed; open {sandbox_url}/approvals",
                    f'  Metrics      curl -H "Authorization: Bearer $METRICS_TOKEN" {stack.url}/metrics'
                    + ("" if os.environ.get("METRICS_TOKEN") else f"   (token in {instance / 'metrics_token'})"),
                    "",
                    "  Ctrl-C stops everything.",
                    "",
                ]
            ),
            flush=True,
        )
        while not stop.wait(0.5):
            dead = next((p for p in stack.processes if not p.alive()), None)
            if dead is not None:
                log.error("%s exited with status %s; stopping", dead.name, dead.popen and dead.popen.returncode)
                return 1
        return 0
    except (RuntimeError, lifecycle.PlatformError) as exc:
        log.error("%s", exc)
        return 1
    finally:
        print("\nStopping…", flush=True)
        stack.stop()
        if serving.is_alive():
            server.shutdown()
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
