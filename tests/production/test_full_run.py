"""One full run through the production processes: install, a burst of webhooks with duplicates, approvals
decided through the tab while Clockify answers 429 now and then, uninstall. Then what the run left: nothing
lost or done twice across two gunicorn workers and two consumers, metrics adding up every process, and
logs that are JSON and hold none of the secrets the run used.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from typing import Any

import pytest
import requests

from bench.sandbox_server import fresh_pending
from tests.production.conftest import ProdHandle
from tests.sandbox_fixtures import SEED, SandboxHandle

pytestmark = pytest.mark.sandbox

SUBMISSIONS = 60  # NEW_APPROVAL_REQUEST webhooks from past weeks nobody submitted
DUPLICATED = 20  # of them sent twice
TAB = "/components/approvals"
NOTE_MARKER = "note-body-marker-7c41e9"  # part of decision bodies: must never reach a log


def poll(condition: Any, timeout: float = 120.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def backlog(prod: ProdHandle) -> int:
    return int(
        prod.database.scalar("SELECT count(*) FROM inbox_events WHERE status IN ('pending','processing','failed')")
    )


def scrape(prod: ProdHandle, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(prod.url + "/metrics", headers=headers, timeout=10)


def sample(text: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, value = line.rsplit(" ", 1)
        found = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


@pytest.fixture(scope="module")
def full_run(prod: ProdHandle, sandbox_server: SandboxHandle) -> dict[str, Any]:
    sandbox = sandbox_server
    sandbox.state.config["SANDBOX_USER_TOKEN_TTL"] = None
    sandbox.state.reset(seed=SEED, size="demo")
    sandbox.state.config["ADDON_URL"] = prod.url
    workspace_id = sandbox.demo_workspace_id
    facts: dict[str, Any] = {"workspace_id": workspace_id}

    # 1. Install through the real INSTALLED call.
    response = sandbox.control("POST", "/install", {"workspaceId": workspace_id})
    assert response.status_code == 201, response.text
    installation = sandbox.world.installations[workspace_id]
    facts["installed_rows"] = prod.database.scalar(
        "SELECT count(*) FROM installations WHERE workspace_id = :w", w=workspace_id
    )

    # 2. A burst of webhooks, the first DUPLICATED of them delivered twice.
    assert sandbox.control("POST", "/deliveries/mode", {"duplicate": DUPLICATED}).status_code == 200
    submitted = fresh_pending(sandbox.state, workspace_id, SUBMISSIONS, emit=True)
    sandbox.drain(60)
    poll(lambda: backlog(prod) == 0 and prod.database.scalar("SELECT count(*) FROM inbox_events") > 0, what="inbox")
    facts["submitted"] = submitted
    facts["inbox_new"] = prod.database.rows(
        "SELECT entity_id, status, attempts FROM inbox_events WHERE event_type = 'NEW_APPROVAL_REQUEST'"
    )
    facts["deliveries"] = [
        d for d in sandbox.control("GET", "/deliveries", params={"event": "NEW_APPROVAL_REQUEST"}).json()
    ]

    # 3. Approve the last closed week's pending requests through the tab, Clockify answering 429 at first.
    owner = sandbox.control("POST", "/tokens/user", {"role": "OWNER"}).json()["token"]
    headers = {"HX-Request": "true", "X-Addon-Token": owner}
    owner_id = sandbox.state.user_id_for_role(workspace_id, "OWNER")

    def pending_rows() -> list[str]:
        # A loaded machine can make the first read of Clockify miss the page's patience: read again.
        queue = requests.get(prod.url + TAB + "/queue", params={"refresh": "1"}, headers=headers, timeout=30)
        assert queue.status_code == 200, queue.text[:500]
        rows = re.findall(r'data-approval-id="([^"]+)" data-state="([A-Z_]+)" data-user-id="([^"]+)"', queue.text)
        return sorted(i for i, state, user in rows if state == "PENDING" and user != owner_id)

    pending = poll(pending_rows, timeout=90, what="the tab's pending requests")
    assert pending, "the demo workspace has pending requests in the last closed week"
    fault = {"pattern": "/api/v1/workspaces/*/approval-requests/*", "methods": ["PATCH"], "rateLimitBurst": 3}
    assert sandbox.control("POST", "/faults", fault).status_code in (200, 201)
    started = requests.post(
        prod.url + TAB + "/decisions",
        data={"action": "approve", "ids": pending, "note": f"Checked {NOTE_MARKER}"},
        headers=headers,
        timeout=30,
    )
    assert started.status_code == 200, started.text[:500]
    job = started.text.split('data-job="', 1)[1].split('"', 1)[0]
    poll(
        lambda: (
            'data-job-status="done"'
            in requests.get(f"{prod.url}{TAB}/decisions/{job}", headers=headers, timeout=30).text
        ),
        what="the decision job",
    )
    sandbox.drain(60)
    poll(lambda: backlog(prod) == 0, what="status webhooks")
    with sandbox.world.lock:
        after = {k: dict(v) for k, v in sandbox.world.workspaces[workspace_id].approvals.items()}
    facts["pending"] = pending
    facts["after"] = after
    facts["patches"] = sandbox.control("GET", "/requests", params={"method": "PATCH"}).json()
    facts["mirror_approved"] = prod.database.scalar(
        "SELECT count(*) FROM approval_requests WHERE workspace_id = :w AND state = 'APPROVED'", w=workspace_id
    )
    facts["inbox_all"] = prod.database.rows("SELECT event_type, status, attempts FROM inbox_events")

    # 4. Metrics, scraped while the processes are up.
    facts["metrics_missing"] = scrape(prod, None)
    facts["metrics_wrong"] = scrape(prod, "not-the-token")
    facts["metrics"] = scrape(prod, prod.settings["METRICS_TOKEN"])

    # 5. Uninstall: DELETED removes every row of the workspace.
    assert sandbox.control("POST", "/uninstall", {"workspaceId": workspace_id}).status_code in (200, 204)
    tables = [
        r[0]
        for r in prod.database.rows(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'workspace_id' "
            "AND table_schema = 'public'"
        )
    ]
    facts["left_after_uninstall"] = {
        t: prod.database.scalar(f'SELECT count(*) FROM "{t}" WHERE workspace_id = :w', w=workspace_id) for t in tables
    }

    facts["secrets"] = {
        "SECRET_KEY": prod.settings["SECRET_KEY"],
        "METRICS_TOKEN": prod.settings["METRICS_TOKEN"],
        "installation token": installation.installation_token,
        "user token": owner,
        "decision note": NOTE_MARKER,
        **{f"webhook token {h['event']}": h["token"] for h in installation.webhooks},
    }
    time.sleep(0.5)  # the last lines reach the files
    facts["logs"] = prod.logs()
    sandbox.control("DELETE", "/faults")
    return facts


def test_every_webhook_is_stored_once_and_processed_once_across_processes(full_run):
    deliveries = full_run["deliveries"]
    assert len(deliveries) == SUBMISSIONS + DUPLICATED  # the sandbox really sent the duplicates
    assert all(d["outcome"] == "delivered" for d in deliveries)
    rows = full_run["inbox_new"]
    assert sorted(r.entity_id for r in rows) == sorted(full_run["submitted"])  # none lost, none stored twice
    # One claim each: a second consumer (or a redelivered queue message) never processed one again.
    assert Counter((r.status, r.attempts) for r in rows) == {("done", 1): SUBMISSIONS}
    assert Counter(r.status for r in full_run["inbox_all"]) == {"done": len(full_run["inbox_all"])}


def test_the_decisions_were_applied_once_each_despite_429s(full_run):
    pending, after = full_run["pending"], full_run["after"]
    assert all(after[k]["state"] == "APPROVED" for k in pending)
    patches = [p for p in full_run["patches"] if "/approval-requests/" in p["path"]]
    refused = [p for p in patches if p["status"] == 429]
    applied = Counter(p["path"].rsplit("/", 1)[-1] for p in patches if p["status"] == 200)
    assert len(refused) == 3
    assert applied == dict.fromkeys(pending, 1)
    assert full_run["mirror_approved"] >= len(pending)


def test_uninstall_leaves_no_row_of_the_workspace(full_run):
    assert full_run["installed_rows"] == 1
    left = full_run["left_after_uninstall"]
    assert "installations" in left and "inbox_events" in left
    assert {t: n for t, n in left.items() if n} == {}


def test_metrics_need_the_token_and_add_up_every_process(full_run):
    assert full_run["metrics_missing"].status_code == 404
    assert full_run["metrics_wrong"].status_code == 404
    response = full_run["metrics"]
    assert response.status_code == 200
    text = response.text
    event = "NEW_APPROVAL_REQUEST"
    assert sample(text, "closeout_webhook_deliveries_total", event=event, outcome="accepted") == SUBMISSIONS
    assert sample(text, "closeout_webhook_deliveries_total", event=event, outcome="duplicate") == DUPLICATED
    assert sample(text, "closeout_http_requests_total", route="/lifecycle/installed", status="200") == 1
    # Samples written by the consumers (other processes than the one that answered the scrape).
    assert sample(text, "closeout_jobs_total", task="process_inbox_events", outcome="complete") >= 1
    assert sample(text, "closeout_jobs_total", task="run_decision_job", outcome="complete") >= 1
    patch = "/v1/workspaces/{workspaceId}/approval-requests/{id}"
    assert sample(text, "closeout_clockify_requests_total", method="PATCH", endpoint=patch, status="429") == 3
    assert sample(text, "closeout_clockify_requests_total", method="PATCH", endpoint=patch, status="200") == len(
        full_run["pending"]
    )
    assert sample(text, "closeout_clockify_rate_limit_wait_seconds_count") > 0
    assert sample(text, "closeout_inbox_backlog") == 0
    assert sample(text, "closeout_inbox_dead_letters") == 0
    assert sample(text, "closeout_inbox_events", status="done") == len(full_run["inbox_all"])


def test_logs_are_json_with_context_and_hold_no_secret(full_run):
    logs = full_run["logs"]
    assert {"gunicorn.log", "consumer-1.log", "consumer-2.log"} <= set(logs)
    by_file: dict[str, list[dict[str, Any]]] = {}
    for name, text in logs.items():
        for line in text.splitlines():
            try:
                by_file.setdefault(name, []).append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"{name}: not a JSON line: {line[:200]}")
    records = [r for file_records in by_file.values() for r in file_records]
    for what, secret in full_run["secrets"].items():
        leaked = [name for name, text in logs.items() if secret in text]
        assert not leaked, f"{what} appears in {leaked}"
    everything = "\n".join(logs.values())
    assert "eyJ" not in everything  # no JWT of any kind (lifecycle tokens included)
    assert "auth_token=" not in everything

    requests_logged = [r for r in records if r.get("logger") == "addon.request"]
    webhook = next(r for r in requests_logged if r.get("event_type") == "NEW_APPROVAL_REQUEST")
    assert webhook["workspace_id"] == full_run["workspace_id"]
    assert webhook["status"] in (200, 202) and webhook["duration_ms"] >= 0 and len(webhook["request_id"]) == 32
    assert webhook["route"].startswith("/webhooks/")
    jobs = [r for r in records if r.get("job") and r.get("outcome")]
    assert {"process_inbox_events", "run_decision_job", "register_webhooks"} <= {r["job"] for r in jobs}
    # The work spread over both consumers (each took some of the queue's messages).
    for consumer in ("consumer-1.log", "consumer-2.log"):
        done = {r["job"] for r in by_file[consumer] if r.get("outcome") == "complete"}
        assert done & {"process_inbox_events", "run_decision_job", "register_webhooks"}, consumer
    assert any(r.get("level") == "debug" for r in records)  # the run logged at DEBUG: the most there is
