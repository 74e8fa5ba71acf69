"""gunicorn settings for Closeout in production: `gunicorn -c gunicorn.conf.py 'addon:create_app()'`.

Every setting can be moved by the environment (GUNICORN_*); the defaults suit one machine behind a TLS
proxy. See README.md, "Deploying".
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from typing import Any

# Metrics from every worker land in one directory that /metrics adds up (prometheus_client multi-process
# mode). It must be set before any worker imports prometheus_client; the consumers of this machine share it.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="closeout-metrics-")
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

wsgi_app = "addon:create_app()"
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# Workers from the CPU count; threads because most of a request is waiting on PostgreSQL or Clockify.
workers = int(os.environ.get("GUNICORN_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# A component page may wait on Clockify (one retry, 30 s read timeout at most); nothing takes longer.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Graceful restarts (SIGHUP, deploys): a worker finishes the requests it has before it stops.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))  # behind a proxy that keeps connections open
# Recycle workers now and then, staggered, so slow growth of memory never needs an operator.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "500"))
# Heartbeat files on tmpfs: a container's overlay disk can stall them into false timeouts.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# The TLS proxy says which requests came over HTTPS (HSTS and secure URLs follow it); trust only it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Closeout writes one structured line per request itself (route template, workspace, status, duration).
# gunicorn's access log is off unless asked for, and never carries a query string: iframe URLs hold tokens.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
# No control socket: several gunicorns on one machine (deploys, tests) would share its one default path.
control_socket_disable = True
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
if os.environ.get("LOG_FORMAT", "json").lower() == "json":
    logconfig_dict: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "addon.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        # The app puts its own JSON handler on the root logger (addon/logs.py).
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
            "gunicorn.access": {
                "handlers": ["stderr"],
                "level": "INFO" if accesslog else "WARNING",
                "propagate": False,
            },
        },
    }


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its live samples go with it (its counters stay in the totals)."""
    from addon.metrics import process_exited  # noqa: PLC0415 (the master imports the app only when needed)

    process_exited(worker.pid)
