"""Code run in separate processes by the shared-pacing test (importable by multiprocessing's spawn)."""

from __future__ import annotations

from typing import Any


def read_workspace_repeatedly(options: dict[str, Any]) -> int:
    """Call GET workspace `count` times through a Redis-shared limiter; returns how many succeeded."""
    import redis

    from addon.clockify import ClockifyClient, RedisLimiter, pacing_for

    connection = redis.Redis.from_url(options["redis_url"])
    limiter = RedisLimiter(connection, *pacing_for(options["limit"]), prefix=options["prefix"])
    client = ClockifyClient(
        options["api_url"], None, options["token"], options["workspace_id"], limiter=limiter, max_retries=0
    )
    done = 0
    try:
        for _ in range(options["count"]):
            client.get_workspace()
            done += 1
    finally:
        client.close()
        connection.close()
    return done
