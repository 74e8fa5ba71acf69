"""Closeout in the benchmark's own process: a fresh SQLite file, migrated, served over HTTP on a free port."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


@contextmanager
def running_closeout(sandbox: Any) -> Iterator[tuple[Any, str]]:
    """(app, url) of a Closeout that trusts `sandbox` (a bench.client.SandboxProcess) and is framed by it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="closeout-bench-") as tmp:
        yield from _serve(tmp, sandbox)


def _serve(tmp: str, sandbox: Any) -> Iterator[tuple[Any, str]]:
    from flask_migrate import upgrade

    from addon import create_app
    from addon.extensions import db

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp}/closeout.sqlite3",
            "QUEUE_URL": f"sqlite:///{tmp}/queue.sqlite3",
            "SECRET_KEY": "bench",
            "TESTING": True,
            "CLOCKIFY_PUBLIC_KEY": sandbox.facts["public_pem"],
            "FRAME_ANCESTORS": sandbox.url,
        }
    )
    with app.app_context():
        upgrade()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["ADDON_BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, url
    finally:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()
