"""The limiter paces each workspace under Clockify's limit, shares its bucket, and honours pauses."""

from __future__ import annotations

import threading
import uuid

import pytest
import redis

from addon.clockify import LocalLimiter, RedisLimiter, limiter_for, pacing_for


class FakeTime:
    """An injectable clock whose sleep advances it (time is ours to control in tests)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def send_times(limiter: LocalLimiter, fake: FakeTime, key: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        limiter.acquire(key)
        times.append(fake.now)
        limiter.release(key)
    return times


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_paced_rate_keeps_every_one_second_window_under_the_limit():
    fake = FakeTime()
    rate, burst = pacing_for(50)
    limiter = LocalLimiter(rate, burst, clock=fake.clock, sleep=fake.sleep)
    times = send_times(limiter, fake, "ws", 500)
    assert max_in_any_window(times) <= 50
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert achieved >= 45


def test_workspaces_have_separate_buckets():
    fake = FakeTime()
    limiter = LocalLimiter(10, 1, clock=fake.clock, sleep=fake.sleep)
    assert limiter.reserve("a") == 0
    assert limiter.reserve("b") == 0
    assert limiter.reserve("a") == pytest.approx(0.1)


def test_pause_holds_every_caller_of_the_workspace_back():
    fake = FakeTime()
    limiter = LocalLimiter(50, 1, clock=fake.clock, sleep=fake.sleep)
    limiter.acquire("ws")
    limiter.pause("ws", 2.0)
    assert limiter.reserve("ws") == pytest.approx(2.0)
    assert limiter.reserve("other") == 0


def test_local_limiter_is_thread_safe():
    limiter = LocalLimiter(1000, 1, clock=lambda: 0.0, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(100):
            w = limiter.reserve("ws")
            with lock:
                waits.append(w)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 800 distinct slots, 1 ms apart: no two callers were handed the same one.
    assert sorted(round(w * 1000) for w in waits) == list(range(800))


def test_the_registry_hands_every_client_the_same_limiter():
    assert limiter_for(50, None) is limiter_for(50.0, None)
    assert limiter_for(50, None) is not limiter_for(10, None)


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.RedisError:
        pytest.fail("Redis is required on 127.0.0.1:6379 for the shared limiter tests")
    yield client
    client.close()


def test_redis_limiter_spaces_slots_by_the_rate(redis_client):
    prefix = f"test:{uuid.uuid4().hex}:"
    slept: list[float] = []
    limiter = RedisLimiter(redis_client, 10, 1, prefix=prefix, sleep=slept.append)
    waits = [limiter.acquire("ws") for _ in range(5)]
    assert waits[0] == 0
    # Each reservation lands 100 ms after the previous one (minus the little real time that passed).
    assert waits[-1] == pytest.approx(0.4, abs=0.05)
    assert redis_client.exists(prefix + "ws")
    redis_client.delete(prefix + "ws")


def test_redis_pause_pushes_the_next_slot_out(redis_client):
    prefix = f"test:{uuid.uuid4().hex}:"
    limiter = RedisLimiter(redis_client, 50, 1, prefix=prefix, sleep=lambda s: None)
    limiter.pause("ws", 3.0)
    assert limiter.acquire("ws") == pytest.approx(3.0, abs=0.05)
    redis_client.delete(prefix + "ws")


class Blocked(Exception):
    pass


def test_a_slot_held_in_one_process_holds_back_another(redis_client):
    prefix = f"test:{uuid.uuid4().hex}:"
    first = RedisLimiter(redis_client, 1000, 1, prefix=prefix, sleep=lambda s: None, slots=3)

    def refuse_to_wait(seconds: float) -> None:
        raise Blocked(seconds)

    blocked = RedisLimiter(redis_client, 1000, 1, prefix=prefix, sleep=refuse_to_wait, slots=3)
    for _ in range(3):
        first.acquire("ws")
    # Three requests of the first process are still unanswered: the other process must wait.
    with pytest.raises(Blocked):
        blocked.acquire("ws")
    for _ in range(3):
        first.release("ws")
    # Answered now, but Clockify may have counted them just now: their slots free a second later.
    second = RedisLimiter(redis_client, 1000, 1, prefix=prefix, slots=3)
    assert 0.9 <= second.acquire("ws") <= 1.5
    second.release("ws")
    redis_client.delete(*redis_client.keys(prefix + "*"))


def test_redis_outage_falls_back_to_pacing_in_process():
    dead = RedisLimiter.from_url("redis://127.0.0.1:1/0", 10, 1)._redis
    fake = FakeTime()
    limiter = RedisLimiter(dead, 10, 1, prefix="test:", sleep=fake.sleep, fallback_clock=fake.clock)
    assert limiter.acquire("ws") == 0
    # Still paced, by the in-process bucket: the second call waits for its slot.
    assert limiter.acquire("ws") == pytest.approx(0.1)
    assert fake.slept == [pytest.approx(0.1)]


def test_a_slot_is_held_until_a_second_after_the_answer():
    from addon.clockify.pacing import SendWindow

    fake = FakeTime()
    window = SendWindow(3, clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):
        window.admit("ws")
    fake.now += 5.0  # the answers take five seconds (a stalled server)
    for _ in range(3):
        window.release("ws")
    # Clockify may have received all three just now: a fourth waits a full second after the answers.
    assert window.admit("ws") == pytest.approx(1.0)
    assert window.admit("other") == 0


def test_late_senders_cannot_bunch_past_the_window():
    from addon.clockify.pacing import SendWindow

    fake = FakeTime()
    window = SendWindow(48, clock=fake.clock, sleep=fake.sleep)
    # A hundred senders all waking at the same instant (their slots passed while the CPU was busy),
    # each answered at once.
    times = []
    for _ in range(100):
        window.admit("ws")
        times.append(fake.now)
        window.release("ws")
    assert max_in_any_window(times) == 48
