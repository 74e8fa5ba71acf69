"""Payloads tolerate unknown and missing fields; errors map each status and keep Clockify's message."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from addon.clockify import ForbiddenError, RateLimitedError, ServerError, UnauthorizedError, invoice_put_body, iso
from addon.clockify import errors as e
from addon.clockify import payloads as p


def test_listing_item_unwraps_the_approval_request_and_its_totals():
    item = {
        "approvalRequest": {
            "id": "ar1",
            "owner": {"userId": "u1", "userName": "Ana", "timeZone": "Europe/Budapest"},
            "status": {"state": "PENDING", "updatedAt": "2026-01-05T08:00:00Z", "futureField": 1},
            "dateRange": {"start": "2026-01-05T00:00:00Z", "end": "2026-01-11T23:59:59Z"},
        },
        "trackedTime": "PT38H30M",
        "billableTime": "PT30H",
        "billableAmount": 250000,
        "somethingNew": {"x": 1},
    }
    request = p.ApprovalRequest.from_api(item)
    assert (request.id, request.user_id, request.state) == ("ar1", "u1", "PENDING")
    assert request.tracked_seconds == 38 * 3600 + 30 * 60
    assert request.period_start == datetime(2026, 1, 5, tzinfo=UTC)
    assert request.raw["somethingNew"] == {"x": 1}


def test_missing_optional_fields_become_none():
    request = p.ApprovalRequest.from_api({"id": "ar2"})
    assert request.user_id is None and request.state is None and request.tracked_seconds is None
    entry = p.TimeEntry.from_api({"id": "te1", "timeInterval": None, "hourlyRate": "not a rate"})
    assert entry.start is None and entry.duration_seconds is None and entry.hourly_rate is None


def test_report_entries_carry_durations_in_seconds():
    entry = p.TimeEntry.from_api({"_id": "te2", "timeInterval": {"duration": 5400}, "amount": 12500})
    assert entry.id == "te2" and entry.duration_seconds == 5400 and entry.amount == 12500


def test_durations_parse_iso_forms():
    assert p.parse_duration("PT1H30M") == 5400
    assert p.parse_duration("P1DT1S") == 86401
    assert p.parse_duration("PT") is None
    assert p.parse_duration("soon") is None


def test_webhook_repr_hides_its_signing_token():
    hook = p.Webhook.from_api({"id": "w1", "url": "https://x/h", "webhookEvent": "NEW_INVOICE", "authToken": "s3cret"})
    assert hook.auth_token == "s3cret"
    assert "s3cret" not in repr(hook)


def test_iso_writes_clockify_timestamps():
    assert iso(date(2026, 1, 5)) == "2026-01-05T00:00:00.000Z"
    assert iso(datetime(2026, 1, 5, 12, 30, 1, 250000, tzinfo=UTC)) == "2026-01-05T12:30:01.250Z"


def test_invoice_put_body_converts_hundredths_to_plain_percent():
    current = {"id": "i1", "number": "7", "currency": "USD", "tax": 1000, "tax2": 0, "discount": 250, "note": "n"}
    body = invoice_put_body(current)
    assert body["taxPercent"] == 10 and body["tax2Percent"] == 0 and body["discountPercent"] == 2.5
    assert body["note"] == "n" and "tax" not in body


def test_each_status_maps_to_its_error_with_clockifys_message():
    body = b'{"message": "Approval is disabled", "code": 501}'
    err = e.error_for_status(403, body, reason="Forbidden", method="GET", path="/v1/workspaces/w/approval-requests")
    assert isinstance(err, ForbiddenError) and err.message == "Approval is disabled" and err.code == 501
    assert err.feature is not None and err.feature.key == "approvals"
    assert "Standard plan" in err.feature.message
    classes = {
        400: e.BadRequestError,
        401: UnauthorizedError,
        404: e.NotFoundError,
        405: e.ConflictError,
        409: e.ConflictError,
        429: RateLimitedError,
        500: ServerError,
        503: ServerError,
    }
    for status, cls in classes.items():
        mapped = e.error_for_status(status, b"", reason="Reason", method="GET", path="/p")
        assert type(mapped) is cls and mapped.status == status and mapped.message == "Reason"


def test_error_body_may_be_html_or_plain_text():
    html = e.error_for_status(502, b"<html>bad gateway</html>", reason="Bad Gateway", method="GET", path="/p")
    assert html.message == "Bad Gateway"
    text = e.error_for_status(400, b"Too many requests", reason="", method="GET", path="/p")
    assert text.message == "Too many requests"


def test_missing_scope_answered_with_401_is_recognised():
    err = e.error_for_status(
        401, b'{"message": "Addon with id does not have permission USER_READ"}', reason="", method="GET", path="/p"
    )
    assert isinstance(err, UnauthorizedError) and err.is_missing_permission


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3.0), ("2.5", 2.5), (None, 0.0), (True, 0.0), ("NaN", 0.0), (float("inf"), 0.0), ("1e999", 0.0), ([], 0.0)],
)
def test_a_number_field_is_finite_or_zero(value, expected):
    assert p.number(value) == expected
