"""Webhook intake: only verified deliveries are stored, once each, and answered at once."""

from __future__ import annotations

from addon.extensions import db
from addon.platform.models import Installation
from tests.conftest import OTHER_WORKSPACE_ID, WORKSPACE_ID
from tests.platform.inbox.support import approval_body, deliver, forget_queue, inbox_rows

EVENT = "NEW_APPROVAL_REQUEST"


def test_verified_delivery_is_stored_pending_and_answered_202(app, client, webhook_tokens):
    response = deliver(client, webhook_tokens[EVENT], EVENT, approval_body())

    assert response.status_code == 202
    assert response.get_json() == {"status": "accepted"}
    [row] = inbox_rows(app)
    assert (row.workspace_id, row.event_type, row.status, row.entity_id) == (WORKSPACE_ID, EVENT, "pending", "req-1")


def test_forged_delivery_is_refused_and_nothing_stored(app, client, webhook_tokens, make_token):
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = make_token("webhook", key=other_key)

    response = deliver(client, forged, EVENT, approval_body())

    assert response.status_code == 401
    assert inbox_rows(app) == []


def test_unsigned_delivery_is_refused_and_nothing_stored(app, client, webhook_tokens):
    response = deliver(client, None, EVENT, approval_body())

    assert response.status_code == 401
    assert "error" in response.get_json()
    assert inbox_rows(app) == []


def test_validly_signed_token_that_is_not_the_webhooks_stored_token_is_refused(app, client, webhook_tokens, make_token):
    fresh_but_unknown = make_token("webhook", nonce="not-the-stored-one")
    another_webhooks_token = webhook_tokens["INVOICE_UPDATED"]

    first = deliver(client, fresh_but_unknown, EVENT, approval_body())
    second = deliver(client, another_webhooks_token, EVENT, approval_body())

    assert (first.status_code, second.status_code) == (401, 401)
    assert inbox_rows(app) == []


def test_event_type_header_of_another_route_is_refused(app, client, webhook_tokens):
    response = deliver(client, webhook_tokens[EVENT], EVENT, approval_body(), header_event="INVOICE_UPDATED")

    assert response.status_code == 400
    assert "event type" in response.get_json()["message"]
    assert inbox_rows(app) == []


def test_delivery_whose_body_names_another_workspace_is_refused(app, client, webhook_tokens):
    body = approval_body(workspaceId=OTHER_WORKSPACE_ID)

    response = deliver(client, webhook_tokens[EVENT], EVENT, body)

    assert response.status_code == 401
    assert inbox_rows(app) == []


def test_token_of_another_installed_workspace_cannot_deliver_into_this_one(app, client, install):
    ours = install(WORKSPACE_ID)["webhook_tokens"]
    theirs = install(OTHER_WORKSPACE_ID, "addon-inst-0002")["webhook_tokens"]

    response = deliver(client, theirs[EVENT], EVENT, approval_body())  # body says WORKSPACE_ID

    assert response.status_code == 401
    assert inbox_rows(app) == []
    assert deliver(client, ours[EVENT], EVENT, approval_body()).status_code == 202


def test_body_that_is_not_a_json_object_is_refused(app, client, webhook_tokens):
    response = deliver(client, webhook_tokens[EVENT], EVENT, ["not", "an", "object"])

    assert response.status_code == 400
    assert inbox_rows(app) == []


def test_duplicate_delivery_answers_200_and_is_stored_once(app, client, webhook_tokens):
    first = deliver(client, webhook_tokens[EVENT], EVENT, approval_body())
    again = deliver(client, webhook_tokens[EVENT], EVENT, approval_body())

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.get_json() == {"status": "duplicate"}
    assert len(inbox_rows(app)) == 1


def test_a_later_update_of_the_same_entity_is_not_a_duplicate(app, client, webhook_tokens):
    deliver(client, webhook_tokens[EVENT], EVENT, approval_body(state="PENDING", at="2026-11-02T10:00:00Z"))
    deliver(client, webhook_tokens[EVENT], EVENT, approval_body(state="PENDING", at="2026-11-02T11:00:00Z"))

    assert len(inbox_rows(app)) == 2


def test_paused_installation_delivery_is_accepted_and_dropped(app, client, webhook_tokens):
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=WORKSPACE_ID))
        installation.is_active = False
        db.session.commit()

    response = deliver(client, webhook_tokens[EVENT], EVENT, approval_body())

    assert response.status_code == 202
    assert response.get_json() == {"status": "dropped"}
    assert inbox_rows(app) == []


def test_delivery_is_accepted_and_kept_pending_when_the_queue_is_down(app, client, webhook_tokens):
    # Nothing listens on port 1: every enqueue fails. The inbox row is the source of truth.
    app.config["QUEUE_URL"] = "redis://127.0.0.1:1/0"
    forget_queue(app)

    response = deliver(client, webhook_tokens[EVENT], EVENT, approval_body())

    assert response.status_code == 202
    [row] = inbox_rows(app)
    assert row.status == "pending"


def test_installation_id_claim_of_another_installation_is_refused(app, client, webhook_tokens, make_token):
    token = make_token("webhook", addonId="addon-inst-9999")

    response = deliver(client, token, EVENT, approval_body())

    assert response.status_code == 401
    assert inbox_rows(app) == []
