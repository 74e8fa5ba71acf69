"""The sandbox's control API: every fault is observable over HTTP, the request log tells what was called."""

from __future__ import annotations

import time

import jwt
import pytest
import requests

pytestmark = pytest.mark.sandbox

USER_PATH = "/api/v1/user"


def _get(sandbox, path=USER_PATH, **kwargs):
    return requests.get(sandbox.url + path, timeout=10, **kwargs)


def test_a_rate_limit_burst_answers_429_with_retry_after_then_stops(sandbox):
    baseline = _get(sandbox).status_code
    response = sandbox.control("POST", "/faults", {"pattern": "/api/v1/*", "rateLimitBurst": 2, "retryAfter": 3})
    assert response.status_code == 201

    first, second, third = (_get(sandbox) for _ in range(3))

    assert (first.status_code, second.status_code) == (429, 429)
    assert first.headers["Retry-After"] == "3"
    assert first.json() == {"message": "Too many requests", "code": 429}
    assert third.status_code == baseline


def test_a_fault_applies_only_to_its_pattern_and_methods(sandbox):
    sandbox.control("POST", "/faults", {"pattern": "/api/v1/workspaces/*", "methods": ["POST"], "errorRate": 1.0})

    assert _get(sandbox, "/api/v1/workspaces/x/users").status_code != 503
    assert requests.post(sandbox.url + "/api/v1/workspaces/x/users", json={}, timeout=10).status_code == 503
    assert _get(sandbox).status_code != 503


def test_an_error_rate_is_deterministic_for_a_seed(sandbox):
    def statuses():
        sandbox.control("DELETE", "/faults")
        sandbox.control("POST", "/faults", {"pattern": USER_PATH, "errorRate": 0.5, "errorStatus": 502, "seed": 7})
        return [_get(sandbox).status_code == 502 for _ in range(20)]

    first, second = statuses(), statuses()

    assert first == second
    assert 0 < sum(first) < 20


def test_latency_delays_the_answer(sandbox):
    sandbox.control("POST", "/faults", {"pattern": USER_PATH, "latencyMs": 300})

    started = time.monotonic()
    _get(sandbox)

    assert time.monotonic() - started >= 0.3
    assert sandbox.control("GET", "/requests").json()[-1]["durationMs"] >= 300


def test_a_dropped_connection_gives_no_answer_at_all(sandbox):
    sandbox.control("POST", "/faults", {"pattern": USER_PATH, "dropRate": 1.0, "times": 1})

    with pytest.raises(requests.ConnectionError):
        _get(sandbox)
    assert _get(sandbox).status_code != 0  # `times` spent: the next call is answered
    logged = sandbox.control("GET", "/requests").json()
    assert logged[0]["dropped"] is True and logged[0]["status"] is None


def test_clearing_faults_restores_normal_answers(sandbox):
    sandbox.control("POST", "/faults", {"pattern": USER_PATH, "errorRate": 1.0})
    assert _get(sandbox).status_code == 503

    assert sandbox.control("DELETE", "/faults").status_code == 204

    assert _get(sandbox).status_code != 503
    assert sandbox.control("GET", "/faults").json() == []


@pytest.mark.parametrize(
    "spec",
    [{}, {"pattern": "no-slash"}, {"pattern": "/api", "errorRate": 2}, {"pattern": "/api", "latencyMs": "slow"}],
)
def test_a_malformed_fault_is_refused_with_a_message(sandbox, spec):
    response = sandbox.control("POST", "/faults", spec)

    assert response.status_code == 400
    assert response.json()["message"]


def test_the_request_log_records_method_path_query_body_status_and_time(sandbox):
    requests.post(
        sandbox.url + "/api/v1/workspaces/ws1/approval-requests?page=2",
        json={"periodStart": "2026-01-05T00:00:00Z"},
        headers={"X-Addon-Token": "secret-token-value"},
        timeout=10,
    )

    (entry,) = sandbox.control("GET", "/requests").json()

    assert entry["method"] == "POST"
    assert entry["path"] == "/api/v1/workspaces/ws1/approval-requests"
    assert entry["query"] == {"page": "2"}
    assert entry["body"] == {"periodStart": "2026-01-05T00:00:00Z"}
    assert isinstance(entry["status"], int) and entry["time"].endswith("Z") and entry["durationMs"] >= 0
    assert entry["addonToken"] is True
    assert "secret-token-value" not in str(entry)


def test_the_request_log_filters_and_clears(sandbox):
    _get(sandbox)
    requests.post(sandbox.url + "/reports/v1/workspaces/ws1/reports/detailed", json={}, timeout=10)
    _get(sandbox, "/__sandbox/state")  # control calls are not logged

    assert [e["method"] for e in sandbox.control("GET", "/requests").json()] == ["GET", "POST"]
    assert len(sandbox.control("GET", "/requests", params={"method": "post"}).json()) == 1
    assert len(sandbox.control("GET", "/requests", params={"path": "/reports/*"}).json()) == 1
    first_id = sandbox.control("GET", "/requests").json()[0]["id"]
    assert len(sandbox.control("GET", "/requests", params={"since": first_id}).json()) == 1

    assert sandbox.control("DELETE", "/requests").status_code == 204
    assert sandbox.control("GET", "/requests").json() == []


def test_reset_forgets_faults_logs_and_installations(sandbox):
    sandbox.control("POST", "/faults", {"pattern": USER_PATH, "errorRate": 1.0})
    _get(sandbox)

    response = sandbox.control("POST", "/reset", {"seed": 42})

    assert response.status_code == 200
    assert response.json()["installations"] == []
    assert sandbox.control("GET", "/faults").json() == []
    assert sandbox.control("GET", "/requests").json() == []


def test_reset_refuses_a_seed_that_is_not_a_number(sandbox):
    response = sandbox.control("POST", "/reset", {"seed": "forty-two"})

    assert response.status_code == 400


def test_reset_refuses_an_unknown_size_and_keeps_the_world(sandbox):
    before = sandbox.world

    response = sandbox.control("POST", "/reset", {"size": "galactic"})

    assert response.status_code == 400
    assert sandbox.world is before
    assert sandbox.control("GET", "/state").json()["size"] == "demo"


def test_reseeding_gives_the_same_world_for_the_same_seed(sandbox):
    def users():
        state = sandbox.control("POST", "/reset", {"seed": 7}).json()
        workspace = sandbox.world.workspaces[state["demoWorkspaceId"]]
        return sorted(u["name"] for u in workspace.users.values())

    assert users() == users()


@pytest.mark.parametrize(
    ("role", "claim"),
    [("OWNER", "OWNER"), ("ADMIN", "WORKSPACE_ADMIN"), ("TEAM_MANAGER", "TEAM_MANAGER"), ("MEMBER", "USER")],
)
def test_a_minted_user_token_carries_the_role_and_clockify_claims(sandbox, role, claim):
    response = sandbox.control("POST", "/tokens/user", {"role": role, "theme": "DARK"})

    assert response.status_code == 201
    claims = jwt.decode(response.json()["token"], sandbox.signer.public_pem, algorithms=["RS256"], issuer="clockify")
    assert claims["workspaceRole"] == claim
    assert claims["theme"] == "DARK" and claims["language"] == "EN"
    assert claims["type"] == "addon" and claims["sub"] == "closeout"
    assert claims["workspaceId"] == sandbox.demo_workspace_id
    assert claims["backendUrl"] == sandbox.backend_url and claims["reportsUrl"] == sandbox.reports_url
    assert claims["exp"] - claims["iat"] == 30 * 60


def test_a_user_token_ttl_can_be_shortened_to_test_expiry(sandbox):
    token = sandbox.control("POST", "/tokens/user", {"role": "MEMBER", "ttl": -5, "userId": "u-1"}).json()["token"]

    with pytest.raises(jwt.ExpiredSignatureError):
        sandbox.signer.decode(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["user"] == "u-1"


def test_an_unknown_role_is_refused(sandbox):
    response = sandbox.control("POST", "/tokens/user", {"role": "EMPEROR"})

    assert response.status_code == 400
    assert "role" in response.json()["message"]


def test_the_world_refuses_unknown_or_private_actions(sandbox):
    assert sandbox.control("POST", "/world/_private", {}).status_code == 404
    assert sandbox.control("POST", "/world/emit", {}).status_code == 404
    assert sandbox.control("POST", "/world/no_such_action", {}).status_code == 404


def test_installing_without_a_reachable_addon_says_why(sandbox):
    response = sandbox.control("POST", "/install", {"addonUrl": "http://127.0.0.1:9"})

    assert response.status_code == 502
    assert "manifest" in response.json()["message"]
    assert sandbox.world.installations == {}
