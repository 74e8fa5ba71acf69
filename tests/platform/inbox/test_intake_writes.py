"""How intake writes: deliveries share a statement, a bad one fails alone, a dropped connection is retried."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from addon.config import INTAKE_BIND
from addon.crypto import digest
from addon.extensions import db, utcnow
from addon.jobs import jobs_for
from addon.manifest import webhook_paths
from addon.platform import intake
from addon.queue import inbox_relay
from tests.conftest import TEST_DB, WORKSPACE_ID
from tests.platform.inbox.support import approval_body, deliver, inbox_rows

EVENT = "NEW_APPROVAL_REQUEST"


def test_concurrent_deliveries_and_their_duplicates_are_each_stored_once(app, webhook_tokens):
    bodies = [approval_body(request_id=f"req-{n}") for n in range(24)]
    sends = bodies + bodies[:8]  # 8 of them delivered twice, at the same moment as the rest
    answers: list[int] = []
    start = threading.Barrier(8)

    def sender(share: list[dict[str, Any]]) -> None:
        client = app.test_client()
        start.wait()
        for body in share:
            answers.append(deliver(client, webhook_tokens[EVENT], EVENT, body).status_code)

    threads = [threading.Thread(target=sender, args=(sends[n::8],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(answers) == [200] * 8 + [202] * 24
    assert sorted(r.entity_id for r in inbox_rows(app)) == sorted(b["id"] for b in bodies)
    with app.app_context():  # one connection served every write: the writer's, still held
        assert db.engines[INTAKE_BIND].pool.checkedout() == 1


def _delivery(app, token: str, body: dict[str, Any]) -> intake._Delivery:
    canonical = intake.canonical_json(body)
    return intake._Delivery(
        {
            "workspace_id": WORKSPACE_ID,
            "event_type": EVENT,
            "dedupe_key": intake.dedupe_key(WORKSPACE_ID, EVENT, canonical),
            "entity_id": intake.entity_id_of(body),
            "payload": canonical,
            "received_at": utcnow(),
            "token_digest": digest(token, app.config["SECRET_KEY"]),
            "addon_id": None,
        }
    )


def test_one_statement_stores_a_batch_and_tells_the_duplicate_apart(app, webhook_tokens):
    token = webhook_tokens[EVENT]
    first, second = approval_body(request_id="req-a"), approval_body(request_id="req-b")
    batch = [_delivery(app, token, first), _delivery(app, token, second), _delivery(app, token, first)]
    with app.app_context():
        intake._write(batch, intake._IntakeConnection(db.engines[INTAKE_BIND]))

    stored = {r.entity_id: r.id for r in inbox_rows(app)}
    assert [d.stored_id for d in batch] == [stored["req-a"], stored["req-b"], None]
    assert all(d.finished and d.error is None for d in batch)


def _refuse_entity(app, entity_id: str) -> None:
    """A database rule that refuses one row: a real failure for one delivery of a batch."""
    with app.app_context(), db.engine.begin() as conn:
        if TEST_DB == "postgresql":
            conn.execute(
                sa.text(
                    "CREATE FUNCTION refuse_entity() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF NEW.entity_id = '{entity_id}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_entity BEFORE INSERT ON inbox_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_entity()"
                )
            )
        else:
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_entity BEFORE INSERT ON inbox_events "
                    f"WHEN NEW.entity_id = '{entity_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )


def _drop_refusal(app) -> None:
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER refuse_entity" + (" ON inbox_events" if TEST_DB == "postgresql" else "")))
        if TEST_DB == "postgresql":
            conn.execute(sa.text("DROP FUNCTION refuse_entity()"))


@pytest.fixture
def refused_entity(app):
    _refuse_entity(app, "req-refused")
    yield "req-refused"
    _drop_refusal(app)


def test_a_delivery_the_database_refuses_fails_alone_and_its_batch_is_stored(app, webhook_tokens, refused_entity):
    token = webhook_tokens[EVENT]
    batch = [
        _delivery(app, token, approval_body(request_id="req-1")),
        _delivery(app, token, approval_body(request_id=refused_entity)),
        _delivery(app, token, approval_body(request_id="req-2")),
    ]
    with app.app_context():
        intake._write(batch, intake._IntakeConnection(db.engines[INTAKE_BIND]))

    assert sorted(r.entity_id for r in inbox_rows(app)) == ["req-1", "req-2"]
    assert batch[0].stored_id is not None and batch[2].stored_id is not None
    with pytest.raises(Exception, match="refused"):
        batch[1].outcome()


def test_refused_delivery_is_answered_5xx_so_clockify_sends_it_again(app, client, webhook_tokens, refused_entity):
    response = deliver(client, webhook_tokens[EVENT], EVENT, approval_body(request_id=refused_entity))

    assert response.status_code >= 500
    assert inbox_rows(app) == []
    assert deliver(client, webhook_tokens[EVENT], EVENT, approval_body(request_id="req-3")).status_code == 202


def test_intake_reconnects_when_the_database_closed_its_connection(app, client, webhook_tokens):
    assert deliver(client, webhook_tokens[EVENT], EVENT, approval_body(request_id="req-1")).status_code == 202
    held = intake.writer_for(app).connection._connection  # kept by the writer between deliveries
    assert held is not None
    if TEST_DB == "postgresql":
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": held.dbapi_connection.info.backend_pid})
    else:
        held.dbapi_connection.close()

    response = deliver(client, webhook_tokens[EVENT], EVENT, approval_body(request_id="req-2"))

    assert response.status_code == 202
    assert [r.entity_id for r in inbox_rows(app)] == ["req-1", "req-2"]
    assert intake.writer_for(app).connection._connection is not held


def test_the_writer_gives_its_connection_back_when_the_engine_is_disposed(app, client, webhook_tokens):
    assert deliver(client, webhook_tokens[EVENT], EVENT, approval_body(request_id="req-1")).status_code == 202
    held = intake.writer_for(app).connection._connection.dbapi_connection
    with app.app_context():
        engine = db.engines[INTAKE_BIND]
        assert engine.pool.checkedout() == 1
        engine.dispose()

    with pytest.raises(Exception, match="closed"):  # closed, not left open in the discarded pool
        held.cursor().execute("SELECT 1")

    assert deliver(client, webhook_tokens[EVENT], EVENT, approval_body(request_id="req-2")).status_code == 202
    assert [r.entity_id for r in inbox_rows(app)] == ["req-1", "req-2"]


def test_a_forked_process_opens_its_own_connection_and_leaves_the_parents_alone(app, client, webhook_tokens):
    assert deliver(client, webhook_tokens[EVENT], EVENT, approval_body(request_id="req-1")).status_code == 202
    writer = intake.writer_for(app).connection
    inherited = writer._connection
    writer._pid = -1  # as in a child forked after this process opened the connection

    assert deliver(client, webhook_tokens[EVENT], EVENT, approval_body(request_id="req-2")).status_code == 202
    assert writer._connection is not inherited
    cursor = inherited.cursor()  # the parent's connection is still open and usable
    cursor.execute("SELECT 1")
    assert cursor.fetchall() == [(1,)]
    inherited.close()
    assert [r.entity_id for r in inbox_rows(app)] == ["req-1", "req-2"]


def _deliver_raw(client, token: str, escaped_id: bytes) -> Any:
    raw = b'{"id": "req-' + escaped_id + b'", "workspaceId": "' + WORKSPACE_ID.encode() + b'"}'
    headers = {"Content-Type": "application/json", "Clockify-Webhook-Event-Type": EVENT, "Clockify-Signature": token}
    return client.post(webhook_paths()[EVENT], data=raw, headers=headers)


def test_body_with_half_a_surrogate_pair_is_refused_and_nothing_stored(app, client, webhook_tokens):
    response = _deliver_raw(client, webhook_tokens[EVENT], b"\\ud800")

    assert response.status_code == 400
    assert "Unicode" in response.get_json()["message"]
    assert inbox_rows(app) == []


def test_escaped_characters_outside_the_basic_plane_are_accepted(app, client, webhook_tokens):
    assert _deliver_raw(client, webhook_tokens[EVENT], b"\\ud83d\\ude00").status_code == 202
    assert [r.entity_id for r in inbox_rows(app)] == ["req-\U0001f600"]


def test_relay_hands_a_burst_to_the_queue_in_a_few_messages(app, webhook_tokens):
    huey = jobs_for(app).huey
    huey.flush()  # the webhook registration INSTALLED queued
    relay = inbox_relay(app)

    for inbox_id in range(1, 46):
        relay.submit(inbox_id)
    assert relay.flush()

    messages = [task.args[0] for task in huey.pending()]
    assert sorted(i for ids in messages for i in ids) == list(range(1, 46))
    assert len(messages) == 3  # batches of 20
    huey.flush()
