"""The attack suite: every route of the app (its url_map, so routes added later are covered) against hostile
tokens, bodies, other workspaces and lesser roles. It ends with one table; anything accepted wrongly, any 5xx
and any row left behind fails the run.

The other categories live beside it (test_attack_*.py): hostile markup in every name Clockify sends and CSV
formula cells, the sandbox's faults during decisions, invoicing and publishing, our own database and Redis
failing mid-request, DELETED and pause during each job kind. test_zz_attack_table.py prints the table.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from addon.extensions import db
from addon.manifest import declared_routes, lifecycle_paths, webhook_paths
from tests.conftest import ADDON_ID, ADDON_KEY, OTHER_WORKSPACE_ID, WORKSPACE_ID

from .attack import REFUSALS, check, record, record_rows, snapshot

# Public by design: the manifest, liveness and readiness (which name a failing part, never a secret), static files.
PUBLIC = {"meta.manifest", "meta.healthz", "meta.readyz", "static"}
SEED = 1313


def _routes(app: Flask) -> Iterator[tuple[str, str, str]]:
    """(method, path, endpoint) of every rule, with ids filled in; the manifest's routes are among them."""
    seen = set()
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            path = rule.rule.replace("<int:job_id>", "1").replace("<int:inbox_id>", "1")
            path = path.replace("<path:filename>", "vendor/htmx.min.js")
            seen.add(path)
            yield method, path, rule.endpoint
    declared = {path for _, path in declared_routes() if not path.startswith("/static/")}
    assert declared <= seen, f"manifest routes without a rule: {declared - seen}"


# --- token variants ---------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    return f"{_b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}."


def _hs256(claims: dict[str, Any], secret: bytes) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


def _variants(make_token: Callable[..., str], public_pem: str) -> dict[str, Callable[[str], str]]:
    """name → kind → a token that must be refused on a route taking that kind."""
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    base = {"iss": "clockify", "sub": ADDON_KEY, "type": "addon", "workspaceId": WORKSPACE_ID, "addonId": ADDON_ID}
    user = {**base, "user": "u-1", "workspaceRole": "OWNER", "exp": now + 600}

    def signed_elsewhere(header: dict[str, str]) -> Callable[[str], str]:
        return lambda kind: jwt.encode(user, stranger, algorithm="RS256", headers=header)

    return {
        "none": lambda kind: "",
        "garbage": lambda kind: "not.a.jwt",
        "forged signature": lambda kind: make_token(kind, key=stranger),
        "alg none": lambda kind: _unsigned(user),
        "HS256 with the public key": lambda kind: _hs256(user, public_pem.encode()),
        "kid elsewhere": signed_elsewhere({"kid": "https://attacker.example/key"}),
        "jku elsewhere": signed_elsewhere({"jku": "https://attacker.example/jwks.json"}),
        "x5u elsewhere": signed_elsewhere({"x5u": "https://attacker.example/cert.pem"}),
        "expired": lambda kind: make_token(kind, exp=now - 120),
        "not yet valid": lambda kind: make_token(kind, nbf=now + 600, iat=now + 600),
        "wrong iss": lambda kind: make_token(kind, iss="not-clockify"),
        "wrong sub": lambda kind: make_token(kind, sub="another-addon"),
        "wrong type": lambda kind: make_token(kind, type="user"),
        "wrong kind": lambda kind: make_token({"user": "lifecycle", "lifecycle": "user", "webhook": "user"}[kind]),
        "user claim a list": lambda kind: make_token(kind, user=["a", "b"]),
        "workspace a number": lambda kind: make_token(kind, workspaceId=12),
        "foreign API host": lambda kind: make_token(kind, backendUrl="https://api.clockify.me.attacker.example/api"),
        "other workspace": lambda kind: make_token(kind, workspaceId="ws-nowhere"),
    }


def _kind(endpoint: str) -> str:
    if endpoint.startswith("lifecycle."):
        return "lifecycle"
    if endpoint.startswith("webhooks."):
        return "webhook"
    return "user"


def _send(client: Any, method: str, path: str, kind: str, token: str, body: Any = None) -> Any:
    headers: dict[str, str] = {}
    if kind == "lifecycle":
        headers["X-Addon-Lifecycle-Token"] = token
    elif kind == "webhook":
        event = next((e for e, p in webhook_paths().items() if p == path), path.rsplit("/", 1)[-1].upper())
        headers.update({"Clockify-Signature": token, "Clockify-Webhook-Event-Type": event.replace("-", "_")})
    else:
        headers.update({"X-Addon-Token": token, "HX-Request": "true"})
    payload = body if body is not None else {"workspaceId": WORKSPACE_ID, "addonId": ADDON_ID, "status": "INACTIVE"}
    if method == "GET":
        return client.get(path, headers=headers)
    return client.open(path, method=method, json=payload, headers=headers)


def test_every_route_refuses_every_untrustworthy_token(app, client, install, make_token, key_pair):
    install()
    install(OTHER_WORKSPACE_ID, addon_id="addon-inst-b")
    variants = _variants(make_token, key_pair[1])
    before = snapshot(app)
    for method, path, endpoint in _routes(app):
        if endpoint in PUBLIC:
            continue
        kind = _kind(endpoint)
        for name, build in variants.items():
            if name == "foreign API host" and kind != "user":
                continue  # only user tokens' hosts are called with
            response = _send(client, method, path, kind, build(kind))
            record(
                "token variants x routes",
                f"{method} {path} [{name}]",
                response.status_code,
                response.status_code in REFUSALS,
                False,
            )
    record_rows("token variants x routes", before, snapshot(app))
    check("token variants x routes")


# --- generated bodies -------------------------------------------------------------------------------


def _hostile_value(rng: random.Random, depth: int = 0) -> Any:
    choices: list[Callable[[], Any]] = [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.randint(-(2**70), 2**70),
        lambda: rng.choice([1e308, -1e308, 0.1, -0.0]),
        lambda: "".join(rng.choice("ab<>\"'&%\x01\u202e\U0001f600 ") for _ in range(rng.randint(0, 40))),
        lambda: "x" * rng.choice([0, 65, 501, 10_000]),
        lambda: "https://attacker.example/api",
        lambda: "=cmd|' /C calc'!A0",
    ]
    if depth < 3:
        choices += [
            lambda: [_hostile_value(rng, depth + 1) for _ in range(rng.randint(0, 3))],
            lambda: {rng.choice(FIELDS): _hostile_value(rng, depth + 1) for _ in range(rng.randint(0, 3))},
        ]
    return rng.choice(choices)()


FIELDS = (
    "workspaceId", "addonId", "authToken", "apiUrl", "asUser", "addonUserId", "webhooks", "status", "settings",
    "id", "owner", "dateRange", "path", "userId", "state", "updatedAt",
)  # fmt: skip


def _hostile_body(rng: random.Random) -> Any:
    body = {name: _hostile_value(rng) for name in rng.sample(FIELDS, rng.randint(0, len(FIELDS)))}
    if rng.random() < 0.6:
        body["workspaceId"] = WORKSPACE_ID  # get past the first check, to reach the parsing behind it
    if rng.random() < 0.5:
        body["addonId"] = ADDON_ID
    return body if rng.random() > 0.05 else rng.choice([[], "text", 7, None])


@pytest.mark.parametrize("target", ["lifecycle", "webhook"])
def test_generated_bodies_never_get_a_5xx_or_change_what_is_stored(app, client, install, make_token, target):
    sent = install()
    rng = random.Random(SEED)
    # DELETED's body is two ids: with a genuine token and the right ids it is a genuine uninstall.
    lifecycle = [(event, path) for event, path in lifecycle_paths().items() if event != "DELETED"]
    paths = lifecycle if target == "lifecycle" else list(webhook_paths().items())
    category = f"generated {target} bodies"
    before = snapshot(app)
    for n in range(600):
        event, path = rng.choice(paths)
        body = _hostile_body(rng)
        if target == "lifecycle":
            token = make_token("lifecycle")
            headers = {"X-Addon-Lifecycle-Token": token}
        else:
            headers = {"Clockify-Signature": sent["webhook_tokens"][event], "Clockify-Webhook-Event-Type": event}
        response = client.post(path, data=json.dumps(body), headers={**headers, "Content-Type": "application/json"})
        status = response.status_code
        # A webhook body is a hint: storing it is right (202 accepted, 200 duplicate) when it verified. A
        # genuinely signed pause or settings notice for the right ids is Clockify's to send; an INSTALLED
        # never is without a genuine installation token, which no generated body has.
        accepted_rightly = status in (200, 202) and (target == "webhook" or event != "INSTALLED")
        refused = status in REFUSALS or accepted_rightly
        record(category, f"#{n} {path} -> {status}", status, refused, False)
    after = snapshot(app)
    # Webhook intake stores what verified (the inbox); nothing else may move. Lifecycle bodies with a valid
    # token may consume it (used_lifecycle_tokens) and record the call; the installation must be intact.
    allowed = {"inbox_events"} if target == "webhook" else {"used_lifecycle_tokens", "lifecycle_events"}
    record_rows(
        category,
        {k: v for k, v in before.items() if k not in allowed},
        {k: v for k, v in after.items() if k not in allowed},
    )
    check(category)


# --- two workspaces, ids of the other ---------------------------------------------------------------


def test_ids_of_another_workspace_are_never_reachable(app, client, install, make_token):
    from addon.approvals.models import DecisionJob
    from addon.platform.models import InboxEvent

    install()
    install(OTHER_WORKSPACE_ID, addon_id="addon-inst-b")
    with app.app_context():
        job = DecisionJob(workspace_id=OTHER_WORKSPACE_ID, actor_user_id="u-b", action="approve", status="queued")
        dead = InboxEvent(
            workspace_id=OTHER_WORKSPACE_ID, event_type="NEW_INVOICE", dedupe_key="d" * 64, payload={}, status="dead"
        )
        db.session.add_all([job, dead])
        db.session.commit()
        job_id, inbox_id = job.id, dead.id
    owner = make_token("user", workspaceRole="OWNER")
    calls = [
        ("GET", f"/components/approvals/decisions/{job_id}"),
        ("POST", f"/components/approvals/decisions/{job_id}/retry"),
        ("POST", f"/settings/activity/{inbox_id}/retry"),
    ]
    before = snapshot(app)
    for method, path in calls:
        response = client.open(path, method=method, headers={"X-Addon-Token": owner, "HX-Request": "true"})
        # The activity retry answers 200 with "no longer in the dead letters": refused if nothing moved.
        refused = response.status_code in REFUSALS or path.startswith("/settings/activity")
        record("other workspace ids", f"{method} {path}", response.status_code, refused, False)
    with app.app_context():
        assert db.session.get(InboxEvent, inbox_id).status == "dead"
    record_rows("other workspace ids", before, snapshot(app))
    check("other workspace ids")


# --- lesser roles on owner and admin actions ------------------------------------------------------------


@pytest.mark.parametrize("role", ["USER", "TEAM_MANAGER", "PROJECT_MANAGER"])
def test_members_and_managers_cannot_take_admin_actions(app, client, install, make_token, role):
    install()
    token = make_token("user", workspaceRole=role, user="u-lesser")
    admin_only = [("GET", "/settings"), ("POST", "/settings"), ("GET", "/settings/preview"),
                  ("GET", "/settings/activity"), ("POST", "/settings/activity/1/retry")]  # fmt: skip
    before = snapshot(app)
    for method, path in admin_only:
        response = client.open(path, method=method, headers={"X-Addon-Token": token, "HX-Request": "true"})
        record("roles x admin actions", f"{role} {method} {path}", response.status_code,
                response.status_code == 403, False)  # fmt: skip
    record_rows("roles x admin actions", before, snapshot(app))
    check("roles x admin actions")
