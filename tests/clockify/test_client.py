"""The client against the sandbox over real HTTP: errors, paging, retries, Retry-After, no duplicate POSTs."""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, datetime, timedelta

import pytest
import requests

from addon.clockify import (
    BadRequestError,
    ClockifyError,
    ConflictError,
    ForbiddenError,
    LocalLimiter,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnauthorizedError,
)

pytestmark = pytest.mark.sandbox

APPROVALS = "/api/v1/workspaces/*/approval-requests"


def calls(request_log, path_glob: str, method: str = "GET") -> list[dict]:
    return [r for r in request_log(path=path_glob) if r["method"] == method]


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, UnauthorizedError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (405, ConflictError),
        (409, ConflictError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_each_error_status_maps_to_its_error(make_client, fault, status, error):
    fault(APPROVALS, methods=["GET"], errorRate=1.0, errorStatus=status)
    client = make_client(max_retries=1)
    with pytest.raises(error) as caught:
        list(client.iter_approval_requests("PENDING"))
    assert caught.value.status == status
    assert caught.value.message == "Injected server error"
    assert caught.value.method == "GET"
    assert caught.value.path.endswith("/approval-requests")
    assert "?" not in caught.value.path


def test_forbidden_approvals_name_the_feature_and_plan(make_client, fault):
    fault(APPROVALS, methods=["GET"], errorRate=1.0, errorStatus=403)
    with pytest.raises(ForbiddenError) as caught:
        list(make_client().iter_approval_requests())
    assert caught.value.feature is not None
    assert caught.value.feature.message.startswith("Approvals need a Standard plan")


def test_a_token_clockify_does_not_know_is_unauthorized(make_client):
    client = make_client(token="not-a-token")
    with pytest.raises(UnauthorizedError) as caught:
        client.get_workspace()
    assert caught.value.status == 401


def test_an_unknown_invoice_is_not_found(make_client):
    with pytest.raises(NotFoundError):
        make_client().get_invoice("000000000000000000000000")


def test_clockify_refusing_a_body_gives_its_message(make_client):
    with pytest.raises(BadRequestError) as caught:
        make_client().update_approval_request("000000000000000000000000", "NOT_A_STATE")
    assert caught.value.message


def test_a_server_that_is_not_listening_is_a_transport_error(installation):
    from addon.clockify import ClockifyClient

    client = ClockifyClient(
        "http://127.0.0.1:9/api",
        None,
        installation.token,
        installation.workspace_id,
        limiter=LocalLimiter(50),
        max_retries=1,
        backoff_base=0.001,
    )
    with pytest.raises(TransportError) as caught:
        client.get_workspace()
    assert caught.value.maybe_applied is False
    assert isinstance(caught.value.__cause__, requests.exceptions.ConnectionError)


# ------------------------------------------------------------------ paging


def test_an_empty_list_costs_one_call(make_client, request_log, installation, sandbox):
    user_id = sandbox.state.user_id_for_role(installation.workspace_id, "MEMBER")
    long_ago = datetime(1990, 1, 1, tzinfo=UTC)
    entries = list(make_client().iter_time_entries(user_id, long_ago, long_ago + timedelta(days=7)))
    assert entries == []
    assert len(calls(request_log, f"/api/v1/workspaces/*/user/{user_id}/time-entries")) == 1


def test_one_short_page_costs_one_call(make_client, request_log):
    client = make_client()
    everything = list(client.iter_approval_requests(page_size=1000))
    assert 0 < len(everything) < 1000
    assert len(calls(request_log, APPROVALS)) == 1


def test_an_exact_multiple_of_the_page_size_reads_everything_in_pages_plus_one(make_client, request_log, sandbox):
    client = make_client()
    total = len(list(client.iter_approval_requests(page_size=1000)))
    size = next(s for s in range(max(2, total // 4), 1, -1) if total % s == 0) if total > 3 else total
    sandbox.control("DELETE", "/requests")
    ids = [r.id for r in client.iter_approval_requests(sort_column="ID", page_size=size)]
    assert len(ids) == total and len(set(ids)) == total
    # A full last page cannot tell it is the last one: one empty page confirms it (no total in the answer).
    assert len(calls(request_log, APPROVALS)) in (total // size, total // size + 1)


def test_pages_ask_for_the_largest_page_size(make_client, request_log):
    list(make_client().iter_approval_requests())
    first = calls(request_log, APPROVALS)[0]
    assert first["query"]["page"] == "1" and int(first["query"]["page-size"]) >= 200


def test_detailed_report_stops_on_the_reported_total(make_client, request_log):
    client = make_client()
    end = datetime.now(UTC)
    entries = list(client.iter_detailed_report(end - timedelta(days=60), end, page_size=100))
    assert entries, "the demo workspace tracks time in the last 60 days"
    minimum = -(-len(entries) // 100)
    assert len(calls(request_log, "/reports/v1/workspaces/*/reports/detailed", "POST")) <= minimum + 1


# ------------------------------------------------------------------ retries and pacing


def test_retry_after_is_honoured_before_trying_again(make_client, fault, request_log, fake_time):
    fault(APPROVALS, methods=["GET"], rateLimitBurst=2, retryAfter=3)
    limiter = LocalLimiter(50, 1, clock=fake_time.clock, sleep=fake_time.sleep)
    client = make_client(limiter=limiter, sleep=fake_time.sleep)
    assert list(client.iter_approval_requests(page_size=1000))
    assert [r["status"] for r in calls(request_log, APPROVALS)] == [429, 429, 200]
    # Each 429 held the workspace's bucket back by Retry-After: the next slot waited 3 s.
    assert [s for s in fake_time.slept if s >= 1] == [pytest.approx(3, abs=0.05)] * 2
    assert client.stats.rate_limited == 2


def test_a_retry_after_longer_than_the_bound_is_raised_not_slept(make_client, fault, fake_time):
    fault(APPROVALS, methods=["GET"], rateLimitBurst=1, retryAfter=600)
    client = make_client(sleep=fake_time.sleep, max_retry_after=60)
    with pytest.raises(RateLimitedError) as caught:
        list(client.iter_approval_requests())
    assert caught.value.retry_after == 600
    assert fake_time.slept == []


def test_idempotent_calls_are_retried_through_server_errors(make_client, fault, request_log):
    fault(APPROVALS, methods=["GET"], errorRate=1.0, errorStatus=503, times=2)
    assert list(make_client().iter_approval_requests(page_size=1000))
    assert [r["status"] for r in calls(request_log, APPROVALS)] == [503, 503, 200]


def test_retries_are_bounded(make_client, fault, request_log):
    fault(APPROVALS, methods=["GET"], errorRate=1.0, errorStatus=502)
    with pytest.raises(ServerError):
        list(make_client(max_retries=2).iter_approval_requests())
    assert len(calls(request_log, APPROVALS)) == 3


def _unsubmitted_period(sandbox, workspace_id):
    """A member and a week start with no approval request yet (far enough back to be free)."""
    world = sandbox.world
    user_id = sandbox.state.user_id_for_role(workspace_id, "MEMBER")
    ws = world.workspace(workspace_id)
    taken = {a["start"] for a in ws.approvals.values() if a["userId"] == user_id}
    monday = datetime(2024, 1, 1, tzinfo=UTC)
    while monday in taken:
        monday += timedelta(days=7)
    return user_id, monday


def _requests_for(sandbox, workspace_id, user_id, start):
    ws = sandbox.world.workspace(workspace_id)
    return [a for a in ws.approvals.values() if a["userId"] == user_id and a["start"] == start]


def test_a_post_that_timed_out_is_not_sent_twice(make_client, fault, request_log, sandbox, installation):
    user_id, monday = _unsubmitted_period(sandbox, installation.workspace_id)
    path = f"/api/v1/workspaces/*/approval-requests/users/{user_id}"
    # Clockify applies the submission but answers after the client has given up waiting.
    fault(path, methods=["POST"], latencyMs=1000, times=1)
    client = make_client(timeout=(3.05, 0.3), settle_seconds=1.5)
    request = client.submit_approval_request_for_user(user_id, monday)
    assert request.user_id == user_id and request.state == "PENDING"
    assert len(calls(request_log, path, "POST")) == 1
    assert len(_requests_for(sandbox, installation.workspace_id, user_id, monday)) == 1


def test_a_timed_out_submission_from_mid_period_is_found_in_its_period(
    make_client, fault, request_log, sandbox, installation
):
    user_id, monday = _unsubmitted_period(sandbox, installation.workspace_id)
    path = f"/api/v1/workspaces/*/approval-requests/users/{user_id}"
    fault(path, methods=["POST"], latencyMs=1000, times=1)
    client = make_client(timeout=(3.05, 0.3), settle_seconds=1.5)
    request = client.submit_approval_request_for_user(user_id, monday + timedelta(days=2, hours=9))
    assert request.period_start == monday
    assert len(calls(request_log, path, "POST")) == 1


def test_a_post_whose_connection_dropped_is_sent_again_only_after_a_read(
    make_client, fault, request_log, sandbox, installation
):
    user_id, monday = _unsubmitted_period(sandbox, installation.workspace_id)
    path = f"/api/v1/workspaces/*/approval-requests/users/{user_id}"
    fault(path, methods=["POST"], dropRate=1.0, times=1)
    request = make_client(settle_seconds=0.1).submit_approval_request_for_user(user_id, monday)
    assert request.state == "PENDING"
    log = [r for r in request_log() if r["path"].startswith("/api/")]
    posts = [i for i, r in enumerate(log) if r["method"] == "POST"]
    assert len(posts) == 2
    # Between the dropped POST and the second one, the client read the approvals to look for it.
    assert any(r["method"] == "GET" and r["path"].endswith("/approval-requests") for r in log[posts[0] : posts[1]])
    assert len(_requests_for(sandbox, installation.workspace_id, user_id, monday)) == 1


def test_a_post_answered_with_a_server_error_is_not_resent_blindly(make_client, fault, request_log):
    fault("/api/v1/workspaces/*/invoices/*/duplicate", methods=["POST"], errorRate=1.0, errorStatus=500, times=1)
    with pytest.raises(ServerError):
        make_client().duplicate_invoice("000000000000000000000000")
    assert len(calls(request_log, "/api/v1/workspaces/*/invoices/*/duplicate", "POST")) == 1


def test_bulk_runs_every_item_in_order_and_keeps_each_error(make_client):
    client = make_client()

    def item(n: int) -> int:
        if n == 3:
            client.get_invoice("000000000000000000000000")
        return n * 2

    results = client.bulk(item, range(6), workers=4)
    assert [r.item for r in results] == list(range(6))
    assert [r.value for r in results if r.ok] == [0, 2, 4, 8, 10]
    assert isinstance(results[3].error, NotFoundError)


# ------------------------------------------------------------------ secrecy


def test_the_token_never_appears_in_repr_errors_or_logs(make_client, fault, installation, caplog):
    caplog.set_level(logging.DEBUG)
    token = installation.token
    client = make_client(max_retries=1, timeout=(3.05, 0.3))
    fault(APPROVALS, methods=["GET"], errorRate=1.0, errorStatus=500)
    fault("/api/v1/workspaces/*/invoices*", methods=["GET"], latencyMs=800)
    texts = [repr(client), str(vars(client))]
    for call in (lambda: list(client.iter_approval_requests()), lambda: list(client.iter_invoices())):
        with pytest.raises(ClockifyError) as caught:
            call()
        texts += [str(caught.value), repr(caught.value), "".join(traceback.format_exception(caught.value))]
    texts.append(caplog.text)
    assert caplog.text, "the client logged its calls"
    for text in texts:
        assert token not in text
