"""Closeout's Clockify API client: typed calls, one error tree, pacing to the rate limit, safe retries."""

from .client import PAGE_SIZES, BulkResult, CallStats, ClockifyClient, invoice_put_body, iso, new_session
from .errors import (
    BadRequestError,
    ClockifyError,
    ConflictError,
    Feature,
    ForbiddenError,
    HTTPError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnauthorizedError,
    feature_for_path,
)
from .pacing import DEFAULT_RATE, Limiter, LocalLimiter, RedisLimiter, limiter_for, pacing_for

__all__ = [
    "DEFAULT_RATE",
    "PAGE_SIZES",
    "BadRequestError",
    "BulkResult",
    "CallStats",
    "ClockifyClient",
    "ClockifyError",
    "ConflictError",
    "Feature",
    "ForbiddenError",
    "HTTPError",
    "Limiter",
    "LocalLimiter",
    "NotFoundError",
    "RateLimitedError",
    "RedisLimiter",
    "ServerError",
    "TransportError",
    "UnauthorizedError",
    "feature_for_path",
    "invoice_put_body",
    "iso",
    "limiter_for",
    "new_session",
    "pacing_for",
]
