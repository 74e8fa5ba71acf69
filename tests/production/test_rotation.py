"""SECRET_KEY rotation: the old key keeps opening stored tokens while `rotate-key` moves them to the new one."""

from __future__ import annotations

import pytest

from addon import create_app
from addon.crypto import DecryptionError, decrypt
from addon.extensions import db
from addon.platform.models import Installation, LifecycleEvent, WebhookSubscription
from tests.conftest import WORKSPACE_ID
from tests.platform.inbox.support import approval_body, deliver

EVENT = "NEW_APPROVAL_REQUEST"
OLD, NEW = "test-secret-key", "the-new-secret-key-2027"


def stored(app):
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=WORKSPACE_ID))
        subscriptions = list(db.session.scalars(db.select(WebhookSubscription)))
        lifecycle = list(db.session.scalars(db.select(LifecycleEvent)))
        return (
            installation.token_ciphertext,
            [s.token_ciphertext for s in subscriptions],
            [e.payload_ciphertext for e in lifecycle],
        )


def opens_all(app, key):
    token, subscriptions, lifecycle = stored(app)
    try:
        for value in [token, *subscriptions, *lifecycle]:
            decrypt(value, key)
    except DecryptionError:
        return False
    return True


def test_rotate_key_moves_every_stored_secret_to_the_new_key_while_both_keep_working(app, app_config, install):
    tokens = install()["webhook_tokens"]
    old_client = app.test_client()
    assert deliver(old_client, tokens[EVENT], EVENT, approval_body("req-before")).status_code == 202

    # Step 1 of the README: the new key first, the old one among the fallbacks (every process, any order).
    rotating = create_app({**app_config, "SECRET_KEY": NEW, "SECRET_KEY_FALLBACKS": f"{OLD}, unused-old-key"})
    client = rotating.test_client()
    # Deliveries still find subscriptions whose token digest was taken under the old key; duplicates are known.
    assert deliver(client, tokens[EVENT], EVENT, approval_body("req-during")).status_code == 202
    assert deliver(client, tokens[EVENT], EVENT, approval_body("req-before")).status_code == 200
    # A process still on the old key only keeps working too (rolling deploys).
    assert deliver(old_client, tokens[EVENT], EVENT, approval_body("req-old-process")).status_code == 202
    runner = rotating.test_cli_runner()
    check = runner.invoke(args=["rotate-key", "--check"])
    assert check.exit_code == 1
    assert "installations.token_ciphertext: 1 not yet on the current key" in check.output

    # Step 2: rotate-key re-encrypts (and re-digests) what is stored, as often as it is run.
    result = runner.invoke(args=["rotate-key"])
    assert result.exit_code == 0, result.output
    assert "installations.token_ciphertext: 1 re-encrypted" in result.output
    assert f"webhook_subscriptions.token_ciphertext: {len(tokens)} re-encrypted" in result.output
    assert "lifecycle_events.payload_ciphertext: 1 re-encrypted" in result.output
    assert runner.invoke(args=["rotate-key", "--check"]).exit_code == 0
    assert "re-encrypted 0 values" in runner.invoke(args=["rotate-key"]).output
    assert opens_all(app, NEW) and not opens_all(app, OLD)

    # Step 3: the old key is dropped; everything still works on the new one alone.
    rotated = create_app({**app_config, "SECRET_KEY": NEW})
    assert deliver(rotated.test_client(), tokens[EVENT], EVENT, approval_body("req-after")).status_code == 202
    with rotated.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=WORKSPACE_ID))
        assert decrypt(installation.token_ciphertext).count(".") == 2  # the installation JWT, readable
    with pytest.raises(DecryptionError):
        decrypt(stored(app)[0], OLD)


def test_a_value_no_key_of_the_ring_opens_is_reported_and_left_alone(app, app_config, install):
    install()
    stranger = create_app({**app_config, "SECRET_KEY": "a-key-that-never-sealed-anything"})
    result = stranger.test_cli_runner().invoke(args=["rotate-key"])
    assert result.exit_code == 1
    assert "installations.token_ciphertext: 0 re-encrypted, 1 unreadable" in result.output
    assert opens_all(app, OLD)  # nothing was overwritten
