"""Pacing: a per-workspace rate limiter, in-process or shared through Redis, under Clockify's limit."""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

# Clockify allows 50 requests/second per add-on per workspace (clockify-api-v1.txt "Rate limiting").
DEFAULT_RATE = 50.0
# Pace a little under the limit with a tiny burst, so that any one-second window holds at most
# burst + 0.95·rate < rate requests whatever window the server counts in (fixed, sliding or bucket).
HEADROOM = 0.95
DEFAULT_PREFIX = "closeout:ratelimit:"


class Limiter(Protocol):
    """Hands out request slots per key (a workspace); shared by every client of that workspace."""

    def acquire(self, key: str) -> float:
        """Block until the caller may send one request; returns the seconds waited."""
        ...

    def release(self, key: str) -> None:
        """The request an `acquire` let out has its answer (or failed); call once per acquire."""
        ...

    def pause(self, key: str, seconds: float) -> None:
        """Hold every caller of `key` back for `seconds` (Clockify's Retry-After)."""
        ...


def pacing_for(limit: float) -> tuple[float, int]:
    """(paced rate, burst) for a documented limit of `limit` requests per second."""
    limit = max(float(limit), 0.001)
    rate = limit * HEADROOM
    burst = max(1, int(limit - rate))
    return rate, burst


def window_limit(rate: float, burst: int) -> int:
    """Most requests GCRA lets out in a rolling second, less one for the network's jitter."""
    return max(1, math.floor(rate + burst) - 1)


# Keys (workspaces) a limiter tracks before it forgets those with nothing left to pace.
PRUNE_ABOVE = 1024


class SendWindow:
    """Bounds what Clockify can count in any rolling second, whatever the network and servers do.

    GCRA spaces the sends, but Clockify counts *arrivals*: a stalled server (or a client whose
    threads wake late) can receive a batch of requests together and answer 429. A request reaches
    Clockify somewhere between its send and its answer, so if each request holds a slot from its
    send until one second after its answer, and at most `limit` slots are held at once, no rolling
    second at Clockify can hold more than `limit` arrivals from this process.
    """

    def __init__(
        self,
        limit: int,
        window: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = max(1, int(limit))
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._in_flight: dict[str, int] = {}
        self._expiries: dict[str, deque[float]] = {}

    def _held(self, key: str, now: float) -> int:
        expiries = self._expiries.setdefault(key, deque())
        while expiries and expiries[0] <= now:
            expiries.popleft()
        return self._in_flight.get(key, 0) + len(expiries)

    def admit(self, key: str) -> float:
        """Block until a slot is free and take it; returns the seconds waited. Pair with `release`."""
        waited = 0.0
        while True:
            with self._cond:
                now = self._clock()
                if self._held(key, now) < self.limit:
                    self._in_flight[key] = self._in_flight.get(key, 0) + 1
                    return waited
                expiries = self._expiries[key]
                if not expiries:
                    # Every slot is a request still waiting for its answer: wait for one to come back.
                    started = time.monotonic()
                    self._cond.wait(0.05)
                    waited += time.monotonic() - started
                    continue
                delay = max(expiries[0] - now, 0.001)
            self._sleep(delay)
            waited += delay

    def release(self, key: str) -> None:
        """The answer (or failure) of an admitted request is in: its slot frees a window later."""
        with self._cond:
            now = self._clock()
            self._in_flight[key] = max(0, self._in_flight.get(key, 0) - 1)
            self._expiries.setdefault(key, deque()).append(now + self.window)
            if len(self._expiries) > PRUNE_ABOVE:
                self._prune(now)
            self._cond.notify_all()

    def _prune(self, now: float) -> None:
        # A key with nothing in flight and every slot expired is the same as a key never seen: forget it,
        # so one process serving many workspaces does not keep one entry per workspace for ever.
        for key in [k for k, e in self._expiries.items() if self._held(k, now) == 0]:
            self._expiries.pop(key, None)
            self._in_flight.pop(key, None)


class LocalLimiter:
    """GCRA scheduler in this process: each acquire reserves the next free slot, then sleeps until it.

    Reserving (instead of polling) keeps callers in arrival order and costs no spinning. Thread-safe.
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._interval = 1.0 / self.rate
        self._tau = (self.burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat: dict[str, float] = {}
        self._window = SendWindow(window_limit(self.rate, self.burst), clock=clock, sleep=sleep)

    def reserve(self, key: str) -> float:
        """Take the next slot for `key`; returns how long to wait before using it."""
        with self._lock:
            now = self._clock()
            if len(self._tat) > PRUNE_ABOVE:
                # A theoretical arrival time already past is the same as none: forget those keys.
                for stale in [k for k, t in self._tat.items() if t <= now]:
                    del self._tat[stale]
            tat = max(self._tat.get(key, now), now)
            start = max(now, tat - self._tau)
            self._tat[key] = tat + self._interval
            return start - now

    def acquire(self, key: str) -> float:
        wait = self.reserve(key)
        if wait > 0:
            self._sleep(wait)
        return wait + self._window.admit(key)

    def release(self, key: str) -> None:
        self._window.release(key)

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            now = self._clock()
            self._tat[key] = max(self._tat.get(key, now), now + max(0.0, seconds) + self._tau)

    def __repr__(self) -> str:
        return f"LocalLimiter(rate={self.rate}, burst={self.burst})"


# The same GCRA as LocalLimiter, atomic in Redis and timed by Redis's clock so every process agrees.
# Times are integer microseconds (exact in Lua's doubles); the key expires once it is in the past.
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local pause = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if pause > 0 then
  local held = now + pause + tau
  if held > tat then
    redis.call('SET', KEYS[1], string.format('%.0f', held), 'PX', math.ceil((held - now) / 1000) + 1000)
  end
  return 0
end
local start = tat - tau
if start < now then start = now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return string.format('%.0f', start - now)
"""


# SendWindow shared by every process: a sorted set per workspace whose members are requests and whose
# scores are when their slot frees (a second after the answer; while unanswered, HOLD_SECONDS after
# the send, so a process that dies mid-request cannot hold a slot forever).
_ADMIT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local hold = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], string.format('%.0f', now + hold), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(hold / 1000) + 1000)
  return '0'
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(first[2]) - now
if wait > 50000 then wait = 50000 end
if wait < 1000 then wait = 1000 end
return string.format('%.0f', wait)
"""

_RELEASE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', now + tonumber(ARGV[1])), ARGV[2])
return 0
"""

# How long the Redis limiter stays on in-process pacing after Redis failed, before trying it again.
REDIS_RETRY_SECONDS = 5.0

# Longest a request may go unanswered before its slot is presumed free: the client's read timeout is 30 s.
HOLD_SECONDS = 60.0


class RedisLimiter:
    """GCRA and the send window shared by every process through Redis keys per workspace.

    If Redis is unreachable the limiter falls back to an in-process one (and says so once), so a Redis
    outage slows nothing down but may let several processes together exceed the limit until it returns.
    """

    def __init__(
        self,
        redis_client: Any,
        rate: float,
        burst: int = 1,
        *,
        prefix: str = DEFAULT_PREFIX,
        sleep: Callable[[float], None] = time.sleep,
        fallback_clock: Callable[[], float] = time.monotonic,
        slots: int | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self.prefix = prefix
        self._redis = redis_client
        self._interval_us = round(1_000_000 / self.rate)
        self._tau_us = (self.burst - 1) * self._interval_us
        self._script = redis_client.register_script(_RESERVE_LUA)
        self._admit = redis_client.register_script(_ADMIT_LUA)
        self._release = redis_client.register_script(_RELEASE_LUA)
        self._sleep = sleep
        self._fallback = LocalLimiter(rate, burst, clock=fallback_clock, sleep=sleep)
        self._window_limit = slots or window_limit(self.rate, self.burst)
        self._window = SendWindow(self._window_limit, clock=fallback_clock, sleep=sleep)
        # The slot each thread holds per key (a client acquires and releases on the same thread).
        self._held = threading.local()
        self._degraded = False
        self._retry_redis_at = 0.0

    @classmethod
    def from_url(cls, url: str, rate: float, burst: int = 1, **kwargs: Any) -> RedisLimiter:
        # Fail fast: pacing falls back to in-process while Redis is away (see _eval).
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
        return cls(client, rate, burst, **kwargs)

    def _eval(self, script: Any, keys: list[str], args: list[Any]) -> int | None:
        """Run a script; None (and in-process pacing) while Redis is unreachable."""
        if self._degraded and time.monotonic() < self._retry_redis_at:
            return None
        try:
            result = script(keys=keys, args=args)
        except redis.RedisError as exc:
            # Stay off Redis for a while: an outage must not add a failed round trip to every call.
            self._retry_redis_at = time.monotonic() + REDIS_RETRY_SECONDS
            if not self._degraded:
                log.warning(
                    "Rate limiter falling back to in-process pacing: Redis unavailable (%s)", type(exc).__name__
                )
                self._degraded = True
            return None
        if self._degraded:
            log.info("Rate limiter back on Redis")
            self._degraded = False
        return int(float(result))

    def _run(self, key: str, pause_us: int) -> int | None:
        return self._eval(self._script, [self.prefix + key], [self._interval_us, self._tau_us, pause_us])

    def _stack(self, key: str) -> list[str | None]:
        stacks = self._held.__dict__.setdefault("stacks", {})
        stack: list[str | None] = stacks.setdefault(key, [])
        return stack

    def acquire(self, key: str) -> float:
        wait_us = self._run(key, 0)
        wait = self._fallback.reserve(key) if wait_us is None else wait_us / 1_000_000
        if wait > 0:
            self._sleep(wait)
        member = uuid.uuid4().hex
        hold_us = round(HOLD_SECONDS * 1_000_000)
        while True:
            admit_us = self._eval(self._admit, [self.prefix + "inflight:" + key], [self._window_limit, hold_us, member])
            if admit_us is None:
                self._stack(key).append(None)
                return wait + self._window.admit(key)
            if admit_us == 0:
                self._stack(key).append(member)
                return wait
            self._sleep(admit_us / 1_000_000)
            wait += admit_us / 1_000_000

    def release(self, key: str) -> None:
        stack = self._stack(key)
        member = stack.pop() if stack else None
        if member is None:
            self._window.release(key)
            return
        self._eval(self._release, [self.prefix + "inflight:" + key], [round(1_000_000 * self._window.window), member])

    def pause(self, key: str, seconds: float) -> None:
        self._fallback.pause(key, seconds)
        self._run(key, max(1, round(seconds * 1_000_000)))

    def __repr__(self) -> str:
        return f"RedisLimiter(rate={self.rate}, burst={self.burst}, prefix={self.prefix!r})"


_registry: dict[tuple[float, str | None, str], Limiter] = {}
_registry_lock = threading.Lock()


def limiter_for(limit: float = DEFAULT_RATE, redis_url: str | None = None, *, prefix: str = DEFAULT_PREFIX) -> Limiter:
    """The process-wide limiter for a documented limit: every client of a workspace shares its bucket."""
    key = (float(limit), redis_url or None, prefix)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            rate, burst = pacing_for(limit)
            if redis_url:
                limiter = RedisLimiter.from_url(redis_url, rate, burst, prefix=prefix)
            else:
                limiter = LocalLimiter(rate, burst)
            _registry[key] = limiter
        return limiter
