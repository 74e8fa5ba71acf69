"""The sandbox API over real HTTP: tokens in headers, JSON refusals and the 50 requests/second limit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.ratelimit import RateLimiter
from sandbox.seed import seed_world
from sandbox.world import World
from tests.live import LiveServer
from tests.sandbox.conftest import ApiSandbox, build_api_sandbox, install


class FrozenClock:
    """A monotonic clock tests move by hand, so a rolling second is exact whatever the machine's load."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def live_api(api_instance: Path) -> Iterator[tuple[ApiSandbox, str]]:
    sb = build_api_sandbox(api_instance)
    server = LiveServer(sb.app).start()
    try:
        yield sb, server.url
    finally:
        server.stop()


def freeze_limiter(sb: ApiSandbox) -> FrozenClock:
    clock = FrozenClock()
    sb.state.rate_limiter = RateLimiter(int(sb.state.config["SANDBOX_RATE_LIMIT"]), clock=clock)
    return clock


def get(url: str, token: str) -> requests.Response:
    return requests.get(url, headers={"X-Addon-Token": token}, timeout=10)


def test_closeout_reads_the_workspace_over_http(live_api: tuple[ApiSandbox, str]) -> None:
    sb, url = live_api
    response = get(f"{url}/api/v1/workspaces/{sb.ws}/users?page-size=5", sb.installation_token)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert len(response.json()) == 5


def test_unknown_api_path_answers_json_404_over_http(live_api: tuple[ApiSandbox, str]) -> None:
    sb, url = live_api
    response = requests.patch(
        f"{url}/api/v1/workspaces/{sb.ws}/time-entries/invoiced/bulk",
        json={"invoiced": True, "timeEntryIds": []},
        headers={"X-Addon-Token": sb.installation_token},
        timeout=10,
    )
    assert response.status_code == 404
    assert response.json()["code"] == 404


def test_the_fifty_first_request_in_a_second_is_429_with_retry_after(live_api: tuple[ApiSandbox, str]) -> None:
    sb, url = live_api
    clock = freeze_limiter(sb)
    target = f"{url}/api/v1/user"
    statuses = [get(target, sb.installation_token).status_code for _ in range(50)]
    assert statuses == [200] * 50
    refused = get(target, sb.installation_token)
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too many requests", "code": 429}
    assert refused.headers["Retry-After"] == "1"
    clock.now += 1.0
    assert get(target, sb.installation_token).status_code == 200


def test_the_limit_is_per_addon_and_workspace(live_api: tuple[ApiSandbox, str]) -> None:
    sb, url = live_api
    freeze_limiter(sb)
    other = "64f0c0ffee00000000000bb2"
    seed_world(sb.world, seed=5, today=sb.world.today, workspace_id=other)
    other_token = install(sb.app, other)
    for _ in range(50):
        assert get(f"{url}/api/v1/user", sb.installation_token).status_code == 200
    assert get(f"{url}/api/v1/user", sb.installation_token).status_code == 429
    assert get(f"{url}/api/v1/user", other_token).status_code == 200


def test_concurrent_clients_get_exactly_fifty_through(live_api: tuple[ApiSandbox, str]) -> None:
    sb, url = live_api
    freeze_limiter(sb)
    statuses: list[int] = []
    lock = threading.Lock()

    def burst() -> None:
        with requests.Session() as session:
            for _ in range(10):
                status = session.get(
                    f"{url}/api/v1/user", headers={"X-Addon-Token": sb.installation_token}, timeout=10
                ).status_code
                with lock:
                    statuses.append(status)

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses).count(200) == 50
    assert statuses.count(429) == 30


def test_a_client_pacing_at_fifty_per_second_is_never_refused() -> None:
    clock = FrozenClock()
    limiter = RateLimiter(50, clock=clock)
    refused = 0
    for step in range(1000):
        clock.now = 1000.0 + step * 0.02
        refused += limiter.hit(("ws", "addon")) is not None
    assert refused == 0


def test_a_client_going_faster_is_refused_and_told_when_to_retry() -> None:
    clock = FrozenClock()
    limiter = RateLimiter(50, clock=clock)
    waits = []
    for step in range(200):
        clock.now = 1000.0 + step * 0.015
        wait = limiter.hit(("ws", "addon"))
        if wait is not None:
            waits.append(wait)
    assert waits and all(0 < w <= 1.0 for w in waits)


def test_the_limiter_is_exact_under_threads() -> None:
    limiter = RateLimiter(50, clock=FrozenClock())
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(100):
            ok = limiter.hit(("ws", "addon")) is None
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 50


def test_a_large_workspace_has_the_benchmark_sizes() -> None:
    world = World()
    workspace = seed_world(world, size="large", today=None)
    assert len(workspace.users) == 500
    assert len(workspace.time_entries) == 50_000
    assert len(workspace.approvals) == 2_000


def test_resetting_the_sandbox_forgets_earlier_requests(api_sandbox: ApiSandbox) -> None:
    assert api_sandbox.get("/api/v1/user").status_code == 200
    assert api_sandbox.state.rate_limiter is not None
    api_sandbox.state.reset()
    assert api_sandbox.state.rate_limiter is None
