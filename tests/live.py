"""Run a WSGI app on a free loopback port in a background thread, for tests over real HTTP."""

from __future__ import annotations

import subprocess
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server


class LiveServer:
    """A threaded Werkzeug server; `url` is its base URL, `stop()` shuts it down."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        # A short poll interval so stop() returns in milliseconds (the default is 0.5 s per server).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name=f"live:{self.port}", daemon=True
        )

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_program(args: list[str], env: dict[str, str], cwd: Any) -> tuple[subprocess.Popen[str], list[str]]:
    """A program in its own session with its output collected line by line (make run, make prod)."""
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    output: list[str] = []
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: output.extend(iter(stdout.readline, "")), daemon=True).start()
    return process, output
