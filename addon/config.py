"""Configuration: embedded defaults, the environment, and what production must set."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from .hosts import parse_hosts

# The names in README.md#configuration; each is read from the environment and may be overridden
# by the same key passed to create_app().
ENV_KEYS = (
    "ADDON_BASE_URL",
    "ADDON_KEY",
    "CLOCKIFY_PUBLIC_KEY",
    "DATABASE_URL",
    "QUEUE_URL",
    "QUEUE_NAME",
    "REDIS_URL",
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "METRICS_TOKEN",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "FRAME_ANCESTORS",
    "RECONCILE_MINUTES",
    "CLOCKIFY_RATE_LIMIT",
    "CLOCKIFY_APP_URL",
    "DASHBOARD_DEBOUNCE_SECONDS",
    "DASHBOARD_MAX_AGE_MINUTES",
    "CLOCKIFY_API_HOSTS",
    "CLOCKIFY_PAGE_BUDGET_SECONDS",
    "INBOX_RETENTION_DAYS",
    "AUDIT_RETENTION_DAYS",
    "WEBHOOK_MAX_BYTES",
    "WEBHOOK_RATE_PER_SECOND",
)

DEFAULT_FRAME_ANCESTORS = "https://*.clockify.me https://clockify.me"
PACKAGED_PUBLIC_KEY = Path(__file__).with_name("clockify_public_key.pem")


class ConfigError(RuntimeError):
    """Raised at start-up when a setting production needs is missing or unusable."""


def build_config(instance_path: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Merge defaults, environment and overrides into the app's config mapping."""
    overrides = dict(overrides or {})
    env = {key: os.environ[key] for key in ENV_KEYS if os.environ.get(key)}
    merged: dict[str, Any] = {**env, **overrides}

    testing = bool(merged.get("TESTING"))
    debug = _truthy(os.environ.get("FLASK_DEBUG")) or bool(merged.get("DEBUG"))
    production = not testing and not debug

    instance = Path(instance_path)
    config: dict[str, Any] = {
        "ADDON_BASE_URL": "http://localhost:5000",
        "ADDON_KEY": "closeout",
        "CLOCKIFY_PUBLIC_KEY": str(PACKAGED_PUBLIC_KEY),
        "DATABASE_URL": f"sqlite:///{instance / 'closeout.sqlite3'}",
        "QUEUE_URL": f"sqlite:///{instance / 'queue.sqlite3'}",
        "REDIS_URL": None,
        "FRAME_ANCESTORS": DEFAULT_FRAME_ANCESTORS,
        "RECONCILE_MINUTES": 15,
        "CLOCKIFY_RATE_LIMIT": 50,
        "TOKEN_LEEWAY_SECONDS": 60,
        # Where links out of an iframe land; None follows the token's API host (see the sidebar).
        "CLOCKIFY_APP_URL": None,
        "DASHBOARD_DEBOUNCE_SECONDS": 20,
        "DASHBOARD_MAX_AGE_MINUTES": 60,
        # No Clockify body or settings form comes near this; anything larger is refused with 413.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "MAX_FORM_MEMORY_SIZE": 256 * 1024,
        # Keys that still decrypt stored tokens while `flask --app addon rotate-key` moves them to SECRET_KEY.
        "SECRET_KEY_FALLBACKS": [],
        # Bearer token for /metrics; unset, /metrics answers 404.
        "METRICS_TOKEN": None,
        # "json" (one object a line, redacted) or "text"; production defaults to json.
        "LOG_FORMAT": "json" if production else "text",
        "LOG_LEVEL": "INFO",
        # Hosts Closeout sends tokens to (see hosts.py); the sandbox adds its own origin in development.
        "CLOCKIFY_API_HOSTS": None,
        # How long a lifecycle token without exp counts as fresh (from its iat); each is accepted once.
        "LIFECYCLE_TOKEN_MAX_AGE_SECONDS": 900,
        # What one page or fragment may spend waiting for Clockify before it renders what is stored.
        "CLOCKIFY_PAGE_BUDGET_SECONDS": 4.0,
        # The largest webhook body stored (no Clockify event comes near it) and deliveries per second
        # one webhook token may make (bursts of five seconds' worth pass).
        "WEBHOOK_MAX_BYTES": 64 * 1024,
        "WEBHOOK_RATE_PER_SECOND": 50.0,
        # Processed inbox rows (done, skipped) are deleted by the sweep after this many days.
        "INBOX_RETENTION_DAYS": 14,
        # Audit entries are deleted by the sweep after this many days: a year of periods plus margin.
        # 0 keeps them for good (until DELETED, which removes every row of the workspace).
        "AUDIT_RETENTION_DAYS": 400,
    }
    config.update(merged)

    if not config.get("SECRET_KEY"):
        if production:
            raise ConfigError("SECRET_KEY must be set in production: it signs sessions and encrypts stored tokens.")
        config["SECRET_KEY"] = _development_secret(instance)

    config["SECRET_KEY_FALLBACKS"] = _key_list(config["SECRET_KEY_FALLBACKS"])
    config["LOG_FORMAT"] = str(config["LOG_FORMAT"]).strip().lower()
    if config["LOG_FORMAT"] not in ("json", "text"):
        raise ConfigError("LOG_FORMAT must be json or text")
    config["LOG_LEVEL"] = str(config["LOG_LEVEL"]).strip().upper()
    config["ADDON_BASE_URL"] = str(config["ADDON_BASE_URL"]).rstrip("/")
    config["RECONCILE_MINUTES"] = int(config["RECONCILE_MINUTES"])
    config["CLOCKIFY_RATE_LIMIT"] = float(config["CLOCKIFY_RATE_LIMIT"])
    config["DASHBOARD_DEBOUNCE_SECONDS"] = float(config["DASHBOARD_DEBOUNCE_SECONDS"])
    config["DASHBOARD_MAX_AGE_MINUTES"] = float(config["DASHBOARD_MAX_AGE_MINUTES"])
    config["CLOCKIFY_API_HOSTS"] = parse_hosts(config["CLOCKIFY_API_HOSTS"])
    config["LIFECYCLE_TOKEN_MAX_AGE_SECONDS"] = float(config["LIFECYCLE_TOKEN_MAX_AGE_SECONDS"])
    config["CLOCKIFY_PAGE_BUDGET_SECONDS"] = float(config["CLOCKIFY_PAGE_BUDGET_SECONDS"])
    config["WEBHOOK_MAX_BYTES"] = int(config["WEBHOOK_MAX_BYTES"])
    config["WEBHOOK_RATE_PER_SECOND"] = float(config["WEBHOOK_RATE_PER_SECOND"])
    config["INBOX_RETENTION_DAYS"] = float(config["INBOX_RETENTION_DAYS"])
    config["AUDIT_RETENTION_DAYS"] = _retention_days(config["AUDIT_RETENTION_DAYS"], "AUDIT_RETENTION_DAYS")
    config["SQLALCHEMY_DATABASE_URI"] = _sqlalchemy_url(str(config["DATABASE_URL"]))
    if _in_memory(config["SQLALCHEMY_DATABASE_URI"]):
        # Each connection to an in-memory SQLite database sees a database of its own: webhook intake,
        # which writes on its own connection, and the worker would never see the rest of Closeout's data.
        raise ConfigError("DATABASE_URL must name a database file or server, not an in-memory SQLite database.")
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    # Webhook intake writes with one autocommitted statement: one round trip, where a transaction with a
    # pre-ping takes four. A dropped connection fails that statement and is retried once (see
    # inbox._IntakeConnection), so the ping would buy intake nothing.
    config.setdefault(
        "SQLALCHEMY_BINDS",
        {
            INTAKE_BIND: {
                "url": config["SQLALCHEMY_DATABASE_URI"],
                "pool_pre_ping": False,
                "pool_reset_on_return": None,  # autocommit: no transaction to roll back
                # One write is in flight per process at a time (deliveries arriving meanwhile join the next),
                # on a connection the writer keeps.
                "pool_size": 1,
                "max_overflow": 2,
                "isolation_level": "AUTOCOMMIT",
            }
        },
    )
    config["IS_PRODUCTION"] = production
    return config


INTAKE_BIND = "intake"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _retention_days(value: Any, name: str) -> float:
    """Days to keep rows for; 0, empty or None keeps them for good."""
    text = str(value if value is not None else "").strip()
    try:
        days = float(text) if text else 0.0
    except ValueError:
        raise ConfigError(f"{name} must be a number of days (0 keeps rows for good)") from None
    if days < 0 or days != days:  # negative or NaN
        raise ConfigError(f"{name} must be a number of days (0 keeps rows for good)")
    return days


def _key_list(value: Any) -> list[str]:
    """Old keys from the environment (comma- or whitespace-separated) or a list; the current key never among them."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or [])
    return [str(item) for item in items if str(item).strip()]


def _sqlalchemy_url(url: str) -> str:
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and (
        parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"
    )


def _development_secret(instance: Path) -> str:
    """Generate the development secret once and keep it, so stored tokens stay readable."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value
