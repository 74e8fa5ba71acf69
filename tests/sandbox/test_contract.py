"""Contract: every request the sandbox accepts and every response it returns match clockify-openapi.json.

For each endpoint the sandbox routes, a representative request is checked against the operation's declared
query parameters (names, required, enums) and request-body schema before it is sent, and the response's status
and body are validated against the operation's response schema. The OpenAPI file has a few generator defects
that the reference's own response samples contradict; they are corrected in `_fixed_schema` and listed there.
Responses may carry null for optional fields (the live API does; the file declares no `nullable`).
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.sandbox.conftest import ApiSandbox

# Clockify's OpenAPI document, vendored so the repository tests itself; CLOCKIFY_OPENAPI checks another copy.
SPEC_CANDIDATES = [
    Path(os.environ.get("CLOCKIFY_OPENAPI", "")),
    Path(__file__).resolve().parents[1] / "data" / "clockify-openapi.json",
]
# Routes Clockify documents outside the OpenAPI file (the add-on settings API, docs/clockify.md#settings).
NOT_IN_SPEC = {"/addon/workspaces/{}/settings"}
# OpenAPI defects: enums modelled as objects, ids as ObjectId objects, arrays typed as their item (workingDays).
# The reference's own samples show the plain strings and arrays the sandbox returns.
STRING_SCHEMAS = {"WebhookEventType", "WebhookEventTriggerSourceType", "TimeEntryId", "CalculationType", "TaxType"}


@cache
def spec() -> dict[str, Any]:
    for path in SPEC_CANDIDATES:
        if path.is_file():
            return json.loads(path.read_text())  # type: ignore[no-any-return]
    pytest.fail("clockify-openapi.json not found; set CLOCKIFY_OPENAPI (contract tests never skip)")


def _fixed_schema(name: str, schema: dict[str, Any], *, response: bool) -> dict[str, Any]:
    """A component schema made fit for jsonschema: generator defects corrected, nulls allowed in responses."""
    if name in STRING_SCHEMAS:
        return {"type": "string"}
    properties = schema.get("properties") or {}
    enum_props = [p for p in properties.values() if isinstance(p, dict) and p.get("enum")]
    # A Java enum serialised as an object whose properties are its own constants (AccountStatus, Feature…).
    if enum_props and any(key in enum_props[0]["enum"] for key in properties):
        return {"type": "string", "enum": list(enum_props[0]["enum"])}
    fixed = _walk(copy.deepcopy(schema), response=response)
    if name == "WorkspaceDtoV1":
        # `features` is an array of Feature names in the reference's sample, a single Feature in the file.
        fixed["properties"]["features"] = {"type": ["array", "null"], "items": {"$ref": "#/definitions/Feature"}}
    return fixed  # type: ignore[no-any-return]


def _walk(node: Any, *, response: bool) -> Any:
    if isinstance(node, list):
        return [_walk(item, response=response) for item in node]
    if not isinstance(node, dict):
        return node
    for name, prop in (node.get("properties") or {}).items():
        example = prop.get("example")
        if prop.get("type") == "string" and prop.get("enum") and isinstance(example, str) and example[:1] == "[":
            # workingDays: declared a string enum, its example (and the live API) an array of them.
            node["properties"][name] = {"type": "array", "items": {"type": "string", "enum": prop["enum"]}}
    node = {k: _walk(v, response=response) for k, v in node.items()}
    if "$ref" in node:
        node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/definitions/")
    if isinstance(node.get("required"), list) and isinstance(node.get("properties"), dict):
        # InvoiceFilterRequestV1 requires "page-size", a name it does not define.
        node["required"] = [r for r in node["required"] if r in node["properties"]]
    if response and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
    if node.get("format") in ("date-time", "date", "byte", "int32", "int64", "double"):
        node.pop("format")
    return node


@cache
def definitions(response: bool) -> dict[str, Any]:
    schemas = spec()["components"]["schemas"]
    return {name: _fixed_schema(name, schema, response=response) for name, schema in schemas.items()}


def validate(schema: dict[str, Any], instance: Any, *, response: bool) -> None:
    full = {**_walk(copy.deepcopy(schema), response=response), "definitions": definitions(response)}
    jsonschema.Draft7Validator(full).validate(instance)


def normalise(path: str) -> str:
    return re.sub(r"\{[^}]+\}|<[^>]+>", "{}", path)


@cache
def operations() -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path with {} placeholders) → operation."""
    found = {}
    for path, ops in spec()["paths"].items():
        for method, op in ops.items():
            if isinstance(op, dict) and method in ("get", "post", "put", "patch", "delete"):
                found[(method.upper(), normalise(path))] = op
    return found


def find_operation(method: str, concrete: str) -> tuple[str, dict[str, Any]] | None:
    """The reference operation a concrete path hits; literal segments win over placeholders (invoices/settings)."""
    candidates = []
    for (op_method, template), op in operations().items():
        if op_method != method:
            continue
        pattern = "^" + re.escape(template).replace(re.escape("{}"), "[^/]+") + "$"
        if re.match(pattern, concrete):
            candidates.append((template.count("{}"), template, op))
    if not candidates:
        return None
    _, template, op = min(candidates, key=lambda c: c[0])
    return template, op


@dataclass
class Case:
    """One request: method, path under /api or /reports (with {ws}), query, body and a setup returning ids."""

    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    expect: int = 200

    @property
    def spec_path(self) -> str:
        return re.sub(r"^/(api|reports)", "", self.path).replace("{ws}", "{}")


def _ids(sb: ApiSandbox) -> dict[str, str]:
    ws = sb.world.workspace(sb.ws)
    pending = next(a for a in ws.approvals.values() if a["state"] == "PENDING")
    member = sb.user_id("MEMBER")
    entry = next(e for e in ws.entries_of(member) if not e["isLocked"])
    invoice = next(i for i in ws.invoices.values() if i["status"] == "PARTIALLY_PAID")
    assignment = next(iter(ws.assignments.values()))
    submitted = {a["userId"] for a in ws.approvals.values() if a["start"].date().isoformat() == "2026-11-16"}
    missing = next(u["id"] for u in ws.users.values() if u["id"] not in submitted and u["role"] is None)
    rejected = next(a for a in ws.approvals.values() if a["state"] == "REJECTED")
    return {
        "member": member,
        "missing": missing,
        "request": pending["id"],
        "rejected_user": rejected["userId"],
        "rejected_start": rejected["start"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "entry": entry["id"],
        "invoice": invoice["id"],
        "payment": invoice["payments"][0]["id"],
        "client": next(iter(ws.clients)),
        "project": assignment["projectId"],
        "assignment": assignment["id"],
        "group": next(iter(ws.groups)),
    }


RANGE = {"start": "2026-11-16T00:00:00Z", "end": "2026-12-20T23:59:59Z"}
LABELS = {
    name: name.title()
    for name in [
        "amount",
        "billFrom",
        "billTo",
        "description",
        "discount",
        "dueDate",
        "issueDate",
        "itemType",
        "notes",
        "paid",
        "quantity",
        "subtotal",
        "tax",
        "tax2",
        "total",
        "totalAmountDue",
        "unitPrice",
    ]
}


def _billable_week(i: dict[str, str]) -> dict[str, Any]:
    """A report body for one client's approved, billable, uninvoiced week (time or expenses)."""
    return {
        "dateRangeStart": "2026-11-16T00:00:00.000Z",
        "dateRangeEnd": "2026-11-22T23:59:59.999Z",
        "approvalState": "APPROVED",
        "invoicingState": "UNINVOICED",
        "billable": True,
        "clients": {"ids": [i["client"]], "contains": "CONTAINS", "status": "ALL"},
        "exportType": "JSON",
    }


CASES: dict[str, Callable[[dict[str, str]], Case]] = {
    "current user": lambda i: Case("GET", "/api/v1/user", {"include-memberships": "true"}),
    "workspace": lambda i: Case("GET", "/api/v1/workspaces/{ws}"),
    "users": lambda i: Case(
        "GET",
        "/api/v1/workspaces/{ws}/users",
        {
            "status": "ACTIVE",
            "sort-column": "NAME",
            "sort-order": "ASCENDING",
            "memberships": "WORKSPACE",
            "include-roles": "true",
            "page": 1,
            "page-size": 10,
        },
    ),
    "managers": lambda i: Case("GET", f"/api/v1/workspaces/{{ws}}/users/{i['member']}/managers"),
    "member profile": lambda i: Case("GET", f"/api/v1/workspaces/{{ws}}/member-profile/{i['member']}"),
    "user groups": lambda i: Case("GET", "/api/v1/workspaces/{ws}/user-groups", {"includeTeamManagers": "true"}),
    "clients": lambda i: Case("GET", "/api/v1/workspaces/{ws}/clients", {"archived": "false", "page-size": 5}),
    "client": lambda i: Case("GET", f"/api/v1/workspaces/{{ws}}/clients/{i['client']}"),
    "projects": lambda i: Case(
        "GET", "/api/v1/workspaces/{ws}/projects", {"billable": "true", "sort-column": "NAME", "hydrated": "true"}
    ),
    "project": lambda i: Case("GET", f"/api/v1/workspaces/{{ws}}/projects/{i['project']}"),
    "approval requests": lambda i: Case(
        "GET",
        "/api/v1/workspaces/{ws}/approval-requests",
        {"status": "PENDING", "sort-column": "START", "sort-order": "DESCENDING", "page": 1, "page-size": 5},
    ),
    "submit approval": lambda i: Case(
        "POST",
        "/api/v1/workspaces/{ws}/approval-requests",
        body={"periodStart": "2026-11-23T00:00:00.000Z"},
        expect=201,
    ),
    "submit approval for user": lambda i: Case(
        "POST",
        f"/api/v1/workspaces/{{ws}}/approval-requests/users/{i['missing']}",
        body={"periodStart": "2026-11-16T00:00:00Z", "period": "WEEKLY"},
        expect=201,
    ),
    "resubmit approval": lambda i: Case(
        "POST",
        "/api/v1/workspaces/{ws}/approval-requests/resubmit-entries-for-approval",
        body={"periodStart": "2026-11-16T00:00:00Z"},
        expect=404,
    ),
    "resubmit approval for user": lambda i: Case(
        "POST",
        f"/api/v1/workspaces/{{ws}}/approval-requests/users/{i['rejected_user']}/resubmit-entries-for-approval",
        body={"periodStart": i["rejected_start"], "period": "WEEKLY"},
    ),
    "decide approval": lambda i: Case(
        "PATCH", f"/api/v1/workspaces/{{ws}}/approval-requests/{i['request']}", body={"state": "APPROVED", "note": "ok"}
    ),
    "user time entries": lambda i: Case(
        "GET",
        f"/api/v1/workspaces/{{ws}}/user/{i['member']}/time-entries",
        {"start": "2026-11-01T00:00:00Z", "end": "2026-11-23T00:00:00Z", "hydrated": "true", "page-size": 20},
    ),
    "time entry": lambda i: Case("GET", f"/api/v1/workspaces/{{ws}}/time-entries/{i['entry']}", {"hydrated": "true"}),
    "update time entry": lambda i: Case(
        "PUT",
        f"/api/v1/workspaces/{{ws}}/time-entries/{i['entry']}",
        body={"start": "2026-11-02T09:00:00Z", "end": "2026-11-02T11:30:00Z", "billable": True, "description": "x"},
    ),
    "delete time entry": lambda i: Case("DELETE", f"/api/v1/workspaces/{{ws}}/time-entries/{i['entry']}", expect=204),
    "create time entry": lambda i: Case(
        "POST",
        "/api/v1/workspaces/{ws}/time-entries",
        body={"start": "2026-11-24T09:00:00Z", "end": "2026-11-24T10:00:00Z", "projectId": i["project"]},
        expect=201,
    ),
    "create time entry for user": lambda i: Case(
        "POST",
        f"/api/v1/workspaces/{{ws}}/user/{i['member']}/time-entries",
        body={"start": "2026-11-24T09:00:00Z", "end": "2026-11-24T10:00:00Z"},
        expect=201,
    ),
    "mark invoiced": lambda i: Case(
        "PATCH", "/api/v1/workspaces/{ws}/time-entries/invoiced", body={"invoiced": True, "timeEntryIds": [i["entry"]]}
    ),
    "invoices": lambda i: Case(
        "GET",
        "/api/v1/workspaces/{ws}/invoices",
        {"statuses": "PAID", "sort-column": "DUE_ON", "sort-order": "DESCENDING", "page-size": 10},
    ),
    "invoices info": lambda i: Case(
        "POST",
        "/api/v1/workspaces/{ws}/invoices/info",
        body={"page": 1, "pageSize": 10, "statuses": ["SENT", "OVERDUE"], "sortColumn": "ISSUE_DATE"},
    ),
    "create invoice": lambda i: Case(
        "POST",
        "/api/v1/workspaces/{ws}/invoices",
        body={
            "clientId": i["client"],
            "currency": "USD",
            "number": "2001",
            "issuedDate": "2026-11-25T00:00:00Z",
            "dueDate": "2026-12-25T00:00:00Z",
        },
        expect=201,
    ),
    "invoice": lambda i: Case("GET", f"/api/v1/workspaces/{{ws}}/invoices/{i['invoice']}"),
    "update invoice": lambda i: Case(
        "PUT",
        f"/api/v1/workspaces/{{ws}}/invoices/{i['invoice']}",
        body={
            "currency": "USD",
            "number": "1003",
            "issuedDate": "2026-11-25T00:00:00Z",
            "dueDate": "2026-12-25T00:00:00Z",
            "taxPercent": 10,
            "tax2Percent": 0,
            "discountPercent": 5,
            "note": "n",
            "subject": "s",
        },
    ),
    "delete invoice": lambda i: Case("DELETE", f"/api/v1/workspaces/{{ws}}/invoices/{i['invoice']}"),
    "invoice status": lambda i: Case(
        "PATCH", f"/api/v1/workspaces/{{ws}}/invoices/{i['invoice']}/status", body={"invoiceStatus": "SENT"}
    ),
    "invoice payments": lambda i: Case("GET", f"/api/v1/workspaces/{{ws}}/invoices/{i['invoice']}/payments"),
    "add payment": lambda i: Case(
        "POST",
        f"/api/v1/workspaces/{{ws}}/invoices/{i['invoice']}/payments",
        body={"amount": 100, "note": "wire", "paymentDate": "2026-11-25T00:00:00Z"},
        expect=201,
    ),
    "delete payment": lambda i: Case(
        "DELETE", f"/api/v1/workspaces/{{ws}}/invoices/{i['invoice']}/payments/{i['payment']}"
    ),
    "duplicate invoice": lambda i: Case(
        "POST", f"/api/v1/workspaces/{{ws}}/invoices/{i['invoice']}/duplicate", expect=201
    ),
    "export invoice": lambda i: Case(
        "GET", f"/api/v1/workspaces/{{ws}}/invoices/{i['invoice']}/export", {"userLocale": "en"}
    ),
    "invoice settings": lambda i: Case("GET", "/api/v1/workspaces/{ws}/invoices/settings"),
    "update invoice settings": lambda i: Case(
        "PUT",
        "/api/v1/workspaces/{ws}/invoices/settings",
        body={"labels": LABELS, "defaults": {"notes": "Thanks", "subject": "Invoice", "dueDays": 14}},
    ),
    "all assignments": lambda i: Case(
        "GET", "/api/v1/workspaces/{ws}/scheduling/assignments/all", {**RANGE, "sort-column": "USER", "page-size": 20}
    ),
    "project totals": lambda i: Case("GET", "/api/v1/workspaces/{ws}/scheduling/assignments/projects/totals", RANGE),
    "filtered project totals": lambda i: Case(
        "POST",
        "/api/v1/workspaces/{ws}/scheduling/assignments/projects/totals",
        body={**RANGE, "page": 1, "pageSize": 50, "statusFilter": "ALL"},
    ),
    "single project totals": lambda i: Case(
        "GET", f"/api/v1/workspaces/{{ws}}/scheduling/assignments/projects/totals/{i['project']}", RANGE
    ),
    "single user totals": lambda i: Case(
        "GET", f"/api/v1/workspaces/{{ws}}/scheduling/assignments/users/{i['member']}/totals", RANGE
    ),
    "user totals": lambda i: Case(
        "POST",
        "/api/v1/workspaces/{ws}/scheduling/assignments/user-filter/totals",
        body={
            **RANGE,
            "page": 1,
            "pageSize": 20,
            "statusFilter": "PUBLISHED",
            "userGroupFilter": {"ids": [i["group"]], "contains": "CONTAINS", "status": "ALL"},
        },
    ),
    "publish": lambda i: Case(
        "PUT",
        "/api/v1/workspaces/{ws}/scheduling/assignments/publish",
        body={**RANGE, "notifyUsers": False, "viewType": "ALL"},
    ),
    "create recurring": lambda i: Case(
        "POST",
        "/api/v1/workspaces/{ws}/scheduling/assignments/recurring",
        body={
            "userId": i["member"],
            "projectId": i["project"],
            "start": "2026-12-07T00:00:00Z",
            "end": "2026-12-11T00:00:00Z",
            "hoursPerDay": 4,
            "recurringAssignment": {"repeat": True, "weeks": 3},
        },
        expect=201,
    ),
    "edit recurring": lambda i: Case(
        "PATCH",
        f"/api/v1/workspaces/{{ws}}/scheduling/assignments/recurring/{i['assignment']}",
        body={
            "start": "2026-10-26T00:00:00Z",
            "end": "2026-10-29T00:00:00Z",
            "hoursPerDay": 3,
            "seriesUpdateOption": "THIS_ONE",
        },
    ),
    "delete recurring": lambda i: Case(
        "DELETE",
        f"/api/v1/workspaces/{{ws}}/scheduling/assignments/recurring/{i['assignment']}",
        {"seriesUpdateOption": "THIS_ONE"},
    ),
    "edit series": lambda i: Case(
        "PUT",
        f"/api/v1/workspaces/{{ws}}/scheduling/assignments/series/{i['assignment']}",
        body={"weeks": 2, "repeat": True},
    ),
    "copy assignment": lambda i: Case(
        "POST",
        f"/api/v1/workspaces/{{ws}}/scheduling/assignments/{i['assignment']}/copy",
        body={"userId": i["missing"], "seriesUpdateOption": "THIS_ONE"},
    ),
    "holidays": lambda i: Case("GET", "/api/v1/workspaces/{ws}/holidays", {"assigned-to": i["member"]}),
    "in-progress entries": lambda i: Case(
        "GET", "/api/v1/workspaces/{ws}/time-entries/status/in-progress", {"page": 1, "page-size": 100}
    ),
    "holidays in period": lambda i: Case(
        "GET",
        "/api/v1/workspaces/{ws}/holidays/in-period",
        {"assigned-to": i["member"], "start": "2026-09-01", "end": "2026-12-31"},
    ),
    "time off requests": lambda i: Case(
        "POST",
        "/api/v1/workspaces/{ws}/time-off/requests",
        body={
            "page": 1,
            "pageSize": 20,
            "statuses": ["APPROVED", "PENDING"],
            "start": "2026-10-01T00:00:00Z",
            "end": "2026-12-31T00:00:00Z",
        },
    ),
    "create webhook": lambda i: Case(
        "POST",
        "/api/v1/workspaces/{ws}/webhooks",
        body={
            "name": "assignments",
            "url": "https://closeout.invalid/webhooks/assignment-created",
            "webhookEvent": "ASSIGNMENT_CREATED",
            "triggerSourceType": "WORKSPACE_ID",
            "triggerSource": [],
        },
        expect=201,
    ),
    "webhooks": lambda i: Case("GET", "/api/v1/workspaces/{ws}/webhooks", {"type": "ADDON"}),
    "addon webhooks": lambda i: Case("GET", "/api/v1/workspaces/{ws}/addons/6500000000000000000000a1/webhooks"),
    "detailed report": lambda i: Case(
        "POST",
        "/reports/v1/workspaces/{ws}/reports/detailed",
        body={**_billable_week(i), "detailedFilter": {"page": 1, "pageSize": 200, "sortColumn": "DATE"}},
    ),
    "expense report": lambda i: Case(
        "POST",
        "/reports/v1/workspaces/{ws}/reports/expenses/detailed",
        body={**_billable_week(i), "page": 1, "pageSize": 200},
    ),
    "summary report": lambda i: Case(
        "POST",
        "/reports/v1/workspaces/{ws}/reports/summary",
        body={
            "dateRangeStart": "2026-11-01T00:00:00Z",
            "dateRangeEnd": "2026-11-22T23:59:59Z",
            "summaryFilter": {"groups": ["CLIENT", "PROJECT"], "sortColumn": "GROUP"},
        },
    ),
}


def _check_request(case: Case, op: dict[str, Any]) -> None:
    declared = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    for name, value in case.query.items():
        assert name in declared, f"query parameter {name} is not in the reference"
        enum = declared[name].get("schema", {}).get("enum") or declared[name].get("schema", {}).get("items", {}).get(
            "enum"
        )
        if enum:
            assert all(v in enum for v in str(value).split(",")), f"{name}={value} is outside {enum}"
    for name, param in declared.items():
        if param.get("required") and name != "include-roles":  # include-roles is "required" with a default
            assert name in case.query, f"required query parameter {name} missing"
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if case.body is not None:
        assert schema is not None, "the reference documents no body here"
        validate(schema, case.body, response=False)


def _check_response(case: Case, op: dict[str, Any], response: Any) -> None:
    documented = op["responses"]
    if case.expect >= 400:
        assert set(response.get_json()) == {"message", "code"}
        return
    assert str(response.status_code) in documented, f"{response.status_code} not in {list(documented)}"
    content = documented[str(response.status_code)].get("content") or {}
    schema = (content.get("application/json") or content.get("*/*") or {}).get("schema")
    if schema is None:
        assert response.data == b"", "the reference documents no response body"
        return
    if schema.get("type") == "string":
        assert response.data
        return
    validate(schema, response.get_json(), response=True)


def _run(sb: ApiSandbox, case: Case) -> None:
    found = find_operation(case.method, case.spec_path)
    assert found is not None, f"{case.method} {case.spec_path} is not an operation of the reference"
    _, op = found
    _check_request(case, op)
    response = sb.call(case.method, case.path, json=case.body, query_string=case.query)
    assert response.status_code == case.expect, response.get_data(as_text=True)
    _check_response(case, op, response)


@pytest.mark.parametrize("name", sorted(CASES))
def test_request_and_response_follow_the_reference(api_sandbox: ApiSandbox, name: str) -> None:
    _run(api_sandbox, CASES[name](_ids(api_sandbox)))


def _create_webhook(sb: ApiSandbox) -> str:
    response = sb.call("POST", "/api/v1/workspaces/{ws}/webhooks", json=CASES["create webhook"]({}).body)
    assert response.status_code == 201
    return str(response.get_json()["id"])


def test_webhook_read_and_delete_follow_the_reference(api_sandbox: ApiSandbox) -> None:
    hook = _create_webhook(api_sandbox)
    _run(api_sandbox, Case("GET", f"/api/v1/workspaces/{{ws}}/webhooks/{hook}"))
    _run(api_sandbox, Case("DELETE", f"/api/v1/workspaces/{{ws}}/webhooks/{hook}"))
    assert api_sandbox.get(f"/api/v1/workspaces/{{ws}}/webhooks/{hook}").status_code == 404


@pytest.mark.parametrize(
    "case",
    [
        Case("GET", "/api/v1/workspaces/{ws}/approval-requests", {"status": "BOGUS"}, expect=400),
        Case("POST", "/api/v1/workspaces/{ws}/approval-requests", body={}, expect=400),
        Case("GET", "/api/v1/workspaces/{ws}/scheduling/assignments/all", {}, expect=400),
        Case("POST", "/api/v1/workspaces/{ws}/invoices", body={"currency": "USD"}, expect=400),
        Case(
            "PATCH",
            "/api/v1/workspaces/{ws}/invoices/5f00000000000000000fffff/status",
            body={"invoiceStatus": "SENT"},
            expect=404,
        ),
    ],
    ids=["bad enum", "missing body field", "missing start/end", "missing invoice fields", "unknown invoice"],
)
def test_refusals_carry_message_and_code(api_sandbox: ApiSandbox, case: Case) -> None:
    found = find_operation(case.method, case.spec_path)
    assert found is not None
    _, op = found
    response = api_sandbox.call(case.method, case.path, json=case.body, query_string=case.query)
    assert response.status_code == case.expect
    _check_response(case, op, response)


def test_every_sandbox_route_is_covered_by_a_contract_case(api_sandbox: ApiSandbox) -> None:
    ids = _Blank()
    covered = set()
    for build in CASES.values():
        case = build(ids)
        found = find_operation(case.method, case.spec_path)
        assert found is not None, case
        covered.add((case.method, found[0]))
    covered |= {("GET", "/v1/workspaces/{}/webhooks/{}"), ("DELETE", "/v1/workspaces/{}/webhooks/{}")}
    routed = set()
    for rule in api_sandbox.app.url_map.iter_rules():
        if not rule.endpoint.startswith(("api.", "reports.")):
            continue
        path = normalise(re.sub(r"^/(api|reports)", "", rule.rule))
        if path in NOT_IN_SPEC:
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            routed.add((method, path))
    assert routed - covered == set()


VENDORED = Path(__file__).resolve().parents[2] / "sandbox" / "request_schemas.json"


def _routed(app: Any) -> set[tuple[str, str]]:
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("api.", "reports.")):
            continue
        path = normalise(re.sub(r"^/(api|reports)", "", rule.rule))
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            routed.add((method, path))
    return routed


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def request_schemas(routed: set[tuple[str, str]]) -> dict[str, Any]:
    """Each routed operation's query parameters and request-body schema, self-contained, defects corrected.

    Null is accepted for any body field, as Clockify's JSON reader takes null for absent; the views still
    refuse a null in a required field. `include-roles` is "required" in the file yet has a default: optional."""
    out: dict[str, Any] = {}
    defs = definitions(True)
    for method, template in sorted(routed):
        op = operations().get((method, template))
        if op is None:
            continue
        query = {}
        for param in op.get("parameters", []):
            if param["in"] != "query":
                continue
            schema = param.get("schema", {})
            rule = {"required": bool(param.get("required")) and param["name"] != "include-roles"}
            enum = schema.get("enum") or schema.get("items", {}).get("enum")
            if enum:
                rule["enum"] = enum
            if schema.get("type") == "integer":
                rule["integer"] = True
                for bound in ("minimum", "maximum"):
                    if bound in schema:
                        rule[bound] = schema[bound]
            if schema.get("type") == "boolean":
                rule["boolean"] = True
            query[param["name"]] = rule
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        walked = None
        if body is not None:
            walked = _walk(copy.deepcopy(body), response=True)
            needed: dict[str, Any] = {}
            pending = _refs(walked)
            while pending:
                name = pending.pop()
                if name not in needed:
                    needed[name] = defs[name]
                    pending |= _refs(defs[name]) - set(needed)
            walked = {**walked, "definitions": dict(sorted(needed.items()))}
        out[f"{method} {template}"] = {"query": query, "body": walked}
    return out


def test_the_sandbox_validates_requests_with_the_references_schemas(api_sandbox: ApiSandbox) -> None:
    """sandbox/request_schemas.json is derived from the reference; CLOCKIFY_REGENERATE=1 rewrites it."""
    derived = request_schemas(_routed(api_sandbox.app))
    if os.environ.get("CLOCKIFY_REGENERATE"):
        VENDORED.write_text(json.dumps(derived, indent=1, sort_keys=True) + "\n")
    assert json.loads(VENDORED.read_text()) == derived


class _Blank(dict):  # type: ignore[type-arg]
    """Ids for building cases without a world: every id is a placeholder segment."""

    def __missing__(self, key: str) -> str:
        return "x"


def test_every_documented_query_enum_refuses_an_unknown_value(api_sandbox: ApiSandbox) -> None:
    ids = _ids(api_sandbox)
    checked = []
    for build in CASES.values():
        case = build(ids)
        found = find_operation(case.method, case.spec_path)
        assert found is not None
        for param in found[1].get("parameters", []):
            schema = param.get("schema", {})
            if param["in"] != "query" or not (schema.get("enum") or schema.get("items", {}).get("enum")):
                continue
            response = api_sandbox.call(
                case.method, case.path, json=case.body, query_string={**case.query, param["name"]: "BOGUS"}
            )
            assert response.status_code == 400, (case.method, case.path, param["name"])
            checked.append(param["name"])
    assert len(checked) >= 15
