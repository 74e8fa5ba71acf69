"""Client behaviour at the edges: redirects, a failing bulk item, numbers from broken bodies."""

from __future__ import annotations

import math

import pytest
from flask import Flask, redirect, request

from addon.clockify import ClockifyClient
from addon.clockify.errors import ClockifyError
from addon.clockify.pacing import LocalLimiter, pacing_for
from addon.clockify.payloads import to_int
from tests.live import LiveServer


@pytest.fixture
def redirecting_api():
    """A stand-in for a misbehaving API host: every call is redirected to another host that records headers."""
    seen: list[dict[str, str]] = []
    elsewhere = Flask("elsewhere")

    @elsewhere.route("/<path:anything>", methods=["GET", "POST"])
    def record(anything: str):
        seen.append(dict(request.headers))
        return {"ok": True}

    target = LiveServer(elsewhere, host="127.0.0.2").start()
    origin = Flask("origin")

    @origin.route("/<path:anything>", methods=["GET", "POST"])
    def bounce(anything: str):
        return redirect(f"{target.url}/{anything}", code=302)

    source = LiveServer(origin).start()
    yield source.url, seen
    source.stop()
    target.stop()


def test_a_redirect_is_refused_and_the_token_never_follows_it(redirecting_api):
    url, seen = redirecting_api
    client = ClockifyClient(url, None, "secret-token", "ws-1", limiter=LocalLimiter(*pacing_for(50)), max_retries=0)
    try:
        with pytest.raises(ClockifyError) as raised:
            client.request("GET", "/v1/user")
        assert raised.value.status == 302
        assert "secret-token" not in str(raised.value)
    finally:
        client.close()
    assert seen == []


def test_a_bulk_item_that_raises_anything_ends_only_itself():
    client = ClockifyClient("http://127.0.0.1:9", None, "t", "ws-1", limiter=LocalLimiter(*pacing_for(50)))

    def work(n: int) -> int:
        if n == 2:
            raise ValueError("a payload Closeout could not read")
        return n * 10

    try:
        results = client.bulk(work, [1, 2, 3], workers=3)
    finally:
        client.close()
    assert [r.value for r in results] == [10, None, 30]
    assert isinstance(results[1].error, ValueError)
    assert [r.ok for r in results] == [True, False, True]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1e999", None), (math.inf, None), (math.nan, None), ("12.7", 12), (7.9, 7), (True, None), ("x", None)],
)
def test_numbers_from_broken_bodies_never_raise(raw, expected):
    assert to_int(raw) == expected


def test_paging_stops_when_an_endpoint_ignores_the_page_parameter():
    from addon.clockify import PAGE_SIZES

    size = PAGE_SIZES["default"]
    calls: list[str] = []
    api = Flask("ignores-paging")

    @api.get("/v1/workspaces/ws-1/clients")
    def clients():
        calls.append(request.args.get("page", ""))
        return [{"id": f"c{n}", "name": f"Client {n}"} for n in range(size)]

    server = LiveServer(api).start()
    client = ClockifyClient(server.url, None, "t", "ws-1", limiter=LocalLimiter(*pacing_for(50)))
    try:
        listed = list(client.iter_clients())
    finally:
        client.close()
        server.stop()
    assert len(listed) == size
    assert calls == ["1", "2"]
