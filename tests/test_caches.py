"""Per-process caches are bounded and forget a removed workspace (DELETED), whatever they hold."""

from __future__ import annotations

from addon.clockify.pacing import PRUNE_ABOVE, LocalLimiter
from addon.extensions import BoundedCache, forget_workspace
from addon.workspace import directory, totals
from addon.workspace.directory import Directory
from tests.conftest import OTHER_WORKSPACE_ID, WORKSPACE_ID
from tests.platform.inbox.support import approval_body, deliver


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bounded_cache_keeps_the_most_recently_used_entries_for_their_time_only():
    clock = Clock()
    cache: BoundedCache[str, int] = BoundedCache(3, ttl=60, clock=clock)
    for n in range(3):
        cache.put(f"k{n}", n)
    assert cache.get("k0") == 0  # used again: k1 is now the least recently used
    cache.put("k3", 3)
    assert (len(cache), cache.get("k1"), cache.get("k0"), cache.get("k3")) == (3, None, 0, 3)
    clock.now += 60
    assert cache.get("k0") is None and len(cache) == 2


def test_forgetting_a_workspace_empties_it_from_every_cache_and_leaves_the_others():
    first: BoundedCache[tuple[str, str], str] = BoundedCache(10, workspace_of=lambda key, _v: key[1])
    second: BoundedCache[str, dict[str, str]] = BoundedCache(10, workspace_of=lambda _k, v: v["workspaceId"])
    first.put(("host", WORKSPACE_ID), "a")
    first.put(("host", OTHER_WORKSPACE_ID), "b")
    second.put("token", {"workspaceId": WORKSPACE_ID})

    assert forget_workspace(WORKSPACE_ID) >= 2

    assert (first.get(("host", WORKSPACE_ID)), second.get("token")) == (None, None)
    assert first.get(("host", OTHER_WORKSPACE_ID)) == "b"


def test_the_directory_and_scheduled_caches_are_bounded():
    assert directory._directory_cache.max_entries == 256
    for n in range(directory._directory_cache.max_entries + 50):
        directory._directory_cache.put(("host", f"ws-{n}"), Directory(users={}, groups=[]))
    assert len(directory._directory_cache) == directory._directory_cache.max_entries
    assert totals._scheduled_cache.max_entries == 1024
    directory._directory_cache.clear()


def test_a_limiter_forgets_workspaces_with_nothing_left_to_pace():
    clock = Clock()
    limiter = LocalLimiter(50, 10, clock=clock, sleep=lambda _s: None)
    for n in range(PRUNE_ABOVE + 100):
        limiter.acquire(f"ws-{n}")
        limiter.release(f"ws-{n}")
    clock.now += 5
    limiter.acquire("ws-late")
    limiter.release("ws-late")
    assert len(limiter._tat) <= 2
    assert len(limiter._window._expiries) <= 2


def test_deleted_drops_the_workspaces_verified_tokens_from_the_process(app, client, install, make_token):
    token = install()["webhook_tokens"]["NEW_APPROVAL_REQUEST"]
    assert deliver(client, token, "NEW_APPROVAL_REQUEST", approval_body()).status_code == 202
    verified = app.extensions["closeout_verified_tokens"]
    digests = app.extensions["closeout_webhook_token_digests"]
    assert verified.get(token) is not None and digests.get(token) is not None

    body = {"addonId": "addon-inst-0001", "workspaceId": WORKSPACE_ID, "asUser": "u"}
    response = client.post(
        "/lifecycle/deleted", json=body, headers={"X-Addon-Lifecycle-Token": make_token("lifecycle")}
    )

    assert response.status_code == 200
    assert (verified.get(token), digests.get(token)) == (None, None)
