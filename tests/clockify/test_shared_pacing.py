"""Two processes sharing one Redis bucket together stay under Clockify's 50 requests/second."""

from __future__ import annotations

import multiprocessing
import uuid
from datetime import datetime

import pytest
import redis

from tests.clockify.workers import read_workspace_repeatedly

pytestmark = pytest.mark.sandbox

REDIS_URL = "redis://127.0.0.1:6379/0"


def most_in_any_second(times: list[datetime]) -> int:
    stamps = sorted(t.timestamp() for t in times)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while t - stamps[lo] >= 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_two_processes_sharing_redis_stay_within_the_limit(sandbox, installation, request_log):
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        pytest.fail("Redis is required on 127.0.0.1:6379 for the shared limiter tests")
    prefix = f"test:pacing:{uuid.uuid4().hex}:"
    options = {
        "redis_url": REDIS_URL,
        "prefix": prefix,
        "limit": 50,
        "api_url": sandbox.backend_url,
        "token": installation.token,
        "workspace_id": installation.workspace_id,
        "count": 75,
    }
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        done = pool.map(read_workspace_repeatedly, [options, options])
    assert done == [75, 75]

    path = f"/api/v1/workspaces/{installation.workspace_id}"
    log = [r for r in request_log(path=path) if r["path"] == path and r["method"] == "GET"]
    assert len(log) == 150
    assert all(r["status"] == 200 for r in log), "no request was answered 429"
    times = [datetime.fromisoformat(r["time"].replace("Z", "+00:00")) for r in log]
    assert most_in_any_second(times) <= 50
    # Together, not each: 150 calls at ≤ 50/s take at least ~2 s.
    assert (max(times) - min(times)).total_seconds() >= 2.0
    redis.Redis.from_url(REDIS_URL).delete(*[k for k in redis.Redis.from_url(REDIS_URL).keys(prefix + "*")] or ["_"])
