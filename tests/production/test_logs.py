"""Structured logs: what redaction removes, what a line carries, and the request line of a JSON-logging app."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from addon import create_app, logs
from addon.metrics import endpoint_template

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJ3b3Jrc3BhY2VJZCI6IndzLTEifQ.c2lnbmF0dXJlLWJ5dGVz"


@pytest.mark.parametrize(
    "text",
    [
        f"GET /components/sidebar?auth_token={JWT}&theme=DARK HTTP/1.1",
        f"headers {{'X-Addon-Token': '{JWT}', 'Accept': 'application/json'}}",
        "Authorization: Bearer s3cr3t-metrics-token-value",
        "Clockify-Signature=abc.def.ghi-and-more",
        f"token={JWT}",
        f"raw {JWT} in a message",
    ],
)
def test_redaction_removes_tokens_headers_and_query_strings(text):
    out = logs.redact(text)
    assert JWT not in out and "s3cr3t" not in out and "abc.def" not in out
    assert logs.REDACTED in out


def test_redaction_removes_configured_secrets_wherever_they_appear():
    assert logs.redact("key is hunter2-long-secret!", ["hunter2-long-secret"]) == "key is [redacted]!"
    assert logs.redact("GET /healthz 200") == "GET /healthz 200"  # nothing else changes


def test_a_json_line_carries_its_context_and_the_exception_type_redacted():
    formatter = logs.JsonFormatter(["the-secret-key"])
    with logs.bound(request_id="r1", workspace_id="ws-1"):
        try:
            raise ValueError(f"bad the-secret-key {JWT}")
        except ValueError:
            record = logging.LogRecord("addon.x", logging.ERROR, __file__, 1, "failed %s", ("the-secret-key",), None)
            record.exc_info = sys.exc_info()
            record.outcome = "error"
            line = json.loads(formatter.format(record))
    assert line["message"] == "failed [redacted]"
    assert (line["request_id"], line["workspace_id"], line["outcome"], line["error"]) == (
        "r1",
        "ws-1",
        "error",
        "ValueError",
    )
    assert "the-secret-key" not in line["trace"] and JWT not in line["trace"]
    assert logs.context() == {}


@pytest.fixture
def json_app(app_config):
    """An app logging as production does; its handler writes into a buffer the test reads."""
    app = create_app({**app_config, "LOG_FORMAT": "json", "METRICS_TOKEN": "metrics-token-123456"})
    root = logging.getLogger()
    (handler,) = [h for h in root.handlers if getattr(h, "closeout", False)]
    app.extensions["test_log"] = io.StringIO()
    handler.setStream(app.extensions["test_log"])
    yield app
    root.removeHandler(handler)


def test_a_production_app_logs_each_request_as_json_without_its_query(json_app, make_token):
    client = json_app.test_client()
    token = make_token("user")
    response = client.get("/components/sidebar", query_string={"auth_token": token})
    assert len(response.headers["X-Request-Id"]) == 32
    proxied = client.get("/healthz", headers={"X-Request-Id": "from-the-proxy-1234"})
    assert proxied.headers["X-Request-Id"] == "from-the-proxy-1234"
    err = json_app.extensions["test_log"].getvalue()
    lines = [json.loads(line) for line in err.splitlines()]
    request_line = next(r for r in lines if r["logger"] == "addon.request" and r["route"] == "/components/sidebar")
    assert request_line["request_id"] == response.headers["X-Request-Id"]
    assert request_line["status"] == response.status_code and request_line["method"] == "GET"
    assert token not in err and "auth_token" not in err


def test_clockify_endpoints_are_templated_so_metrics_stay_bounded():
    assert (
        endpoint_template("/v1/workspaces/{workspaceId}/approval-requests/64f0c0ffee00000000000de0?page=2")
        == "/v1/workspaces/{workspaceId}/approval-requests/{id}"
    )
    assert endpoint_template("/v1/user") == "/v1/user"
    assert endpoint_template("/reports/v1/workspaces/{workspaceId}/reports/detailed") == (
        "/reports/v1/workspaces/{workspaceId}/reports/detailed"
    )
