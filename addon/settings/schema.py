"""Closeout's per-workspace settings: the schema of every key, its default, and the validation of submitted values."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

log = logging.getLogger(__name__)

GROUPS = {
    "approvals": "Approvals",
    "invoicing": "Invoicing",
    "scheduling": "Scheduling",
}


class SettingsError(ValueError):
    """A setting value that cannot be used; `message` is shown beside the field."""


@dataclass(frozen=True)
class Setting:
    """One setting: its storage key, type, default and the bounds its validation enforces."""

    key: str
    label: str
    kind: str  # bool | int | decimal | text | choice | multi | pattern | currency | map
    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    choices: tuple[tuple[str, str], ...] = ()
    placeholders: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


SCHEMA: tuple[Setting, ...] = (
    # Approvals
    Setting("approvals.auto_enabled", "Auto-approve requests that pass every rule", "bool", False),
    Setting(
        "approvals.dry_run",
        "Dry run (record what auto-approval would decide, approve nothing)",
        "bool",
        True,
    ),
    Setting(
        "approvals.tolerance_percent",
        "Tolerance against scheduled hours (%)",
        "decimal",
        10,
        help="A timesheet within this percentage of its scheduled hours passes.",
        minimum=0,
        maximum=100,
    ),
    Setting(
        "approvals.max_hours_per_day",
        "Maximum hours per day",
        "decimal",
        12,
        help="A day above this blocks auto-approval.",
        minimum=0.25,
        maximum=24,
    ),
    Setting("approvals.require_project", "Require a project on every entry", "bool", True),
    Setting(
        "approvals.user_groups",
        "User groups in scope",
        "multi",
        [],
        help="Leave empty to apply auto-approval to everyone.",
    ),
    # Invoicing
    Setting(
        "invoicing.number_pattern",
        "Invoice numbering pattern",
        "pattern",
        "INV-{YYYY}-{SEQ:4}",
        help="Placeholders: {YYYY} {YY} {MM} {DD} and {SEQ} or {SEQ:n} (zero-padded to n digits).",
        max_length=40,
    ),
    Setting(
        "invoicing.next_sequence",
        "Next sequence number",
        "int",
        1,
        help="The {SEQ} of the next invoice Closeout creates.",
        minimum=1,
        maximum=999_999_999,
    ),
    Setting("invoicing.due_days", "Payment due after (days)", "int", 30, minimum=0, maximum=365),
    Setting("invoicing.currency", "Currency", "currency", "USD", help="ISO 4217 code, e.g. USD or EUR."),
    Setting("invoicing.tax_percent", "Tax (%)", "decimal", 0, minimum=0, maximum=100),
    Setting("invoicing.tax2_percent", "Second tax (%)", "decimal", 0, minimum=0, maximum=100),
    Setting("invoicing.discount_percent", "Discount (%)", "decimal", 0, minimum=0, maximum=100),
    Setting(
        "invoicing.subject_template",
        "Subject template",
        "text",
        "Invoice {number} for {client}",
        help="Placeholders: {number} {client} {period_start} {period_end} {due_date}.",
        max_length=200,
        placeholders=("number", "client", "period_start", "period_end", "due_date"),
    ),
    Setting(
        "invoicing.note_template",
        "Note template",
        "text",
        "Approved time for {period_start} to {period_end}. Payment due {due_date}.",
        help="Placeholders: {number} {client} {period_start} {period_end} {due_date}.",
        max_length=1000,
        placeholders=("number", "client", "period_start", "period_end", "due_date"),
    ),
    Setting(
        "invoicing.line_grouping",
        "Invoice lines",
        "choice",
        "project",
        help="How the approved entries of an invoice are grouped into its lines.",
        choices=(
            ("project", "One line per project"),
            ("person", "One line per person"),
            ("entry", "One line per entry"),
        ),
    ),
    Setting(
        "invoicing.overdue_automation",
        "Mark invoices overdue automatically",
        "bool",
        True,
        help="Every day, sent and partly paid invoices past their due date are marked overdue in Clockify.",
    ),
    Setting(
        "invoicing.recurring_clients",
        "Recurring invoices for clients",
        "multi",
        [],
        help="Each month, on the client's day, Closeout duplicates the client's template invoice with the next "
        "number and new dates. Choose the template and the day in Invoices → Bill approved time → Recurring invoices.",
    ),
    Setting(
        "invoicing.recurring_templates",
        "Recurring template invoice and day per client",
        "map",
        {},
        help="Set in Invoices → Bill approved time → Recurring invoices.",
    ),
    # Scheduling
    Setting(
        "scheduling.under_max_percent",
        "Under-allocated up to (%)",
        "int",
        92,
        help="People scheduled at or below this share of capacity are under-allocated.",
        minimum=1,
        maximum=500,
    ),
    Setting(
        "scheduling.over_min_percent",
        "Over-allocated from (%)",
        "int",
        107,
        help="People scheduled at or above this share of capacity are over-allocated.",
        minimum=2,
        maximum=1000,
    ),
    Setting(
        "scheduling.heatmap_view",
        "Default heatmap view",
        "choice",
        "weekly",
        choices=(("daily", "Daily"), ("weekly", "Weekly")),
    ),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SCHEMA}

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PATTERN_TOKEN = re.compile(r"\{([^{}]*)\}")
_PATTERN_LITERAL = re.compile(r"^[A-Za-z0-9 _\-/.#]*$")
_SEQ = re.compile(r"^SEQ(?::(\d{1,2}))?$")
_DATE_TOKENS = {"YYYY", "YY", "MM", "DD"}
_TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")


def defaults() -> dict[str, Any]:
    """Every key with its default value (fresh copies: lists are never shared)."""
    return {s.key: copy_value(s.default) for s in SCHEMA}


def copy_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: copy_value(v) for k, v in value.items()}
    return list(value) if isinstance(value, list) else value


# A recurring plan's day of the month: 29-31 fall on the last day of shorter months.
RECURRING_DAY_MIN, RECURRING_DAY_MAX = 1, 31
_CLOCKIFY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def recurring_plans(value: Any) -> dict[str, dict[str, Any]]:
    """`invoicing.recurring_templates` checked: {client id: {"invoice": template invoice id, "day": 1-31}}."""
    if not isinstance(value, dict) or len(value) > 500:
        raise SettingsError("not a map of clients")
    plans: dict[str, dict[str, Any]] = {}
    for client_id, plan in value.items():
        if not isinstance(client_id, str) or not _CLOCKIFY_ID.match(client_id) or not isinstance(plan, dict):
            raise SettingsError("not a map of clients")
        invoice, day = plan.get("invoice"), plan.get("day")
        if not isinstance(invoice, str) or not _CLOCKIFY_ID.match(invoice):
            raise SettingsError("Choose a template invoice.")
        if isinstance(day, bool) or not isinstance(day, int) or not RECURRING_DAY_MIN <= day <= RECURRING_DAY_MAX:
            raise SettingsError(f"Choose a day from {RECURRING_DAY_MIN} to {RECURRING_DAY_MAX}.")
        since = plan.get("since")
        if since is not None:
            try:
                since = date.fromisoformat(str(since)).isoformat()
            except ValueError:
                raise SettingsError("not a date") from None
        plans[client_id] = {"invoice": invoice, "day": day, **({"since": since} if since else {})}
    return plans


def utilization_band(percent: float, under_max: float = 92, over_min: float = 107) -> str:
    """Which band a utilization falls in: ≤ under_max is under, ≥ over_min is over, between is full."""
    if percent <= under_max:
        return "under"
    if percent >= over_min:
        return "over"
    return "full"


# --- validation ---------------------------------------------------------------------------------


def parse_value(setting: Setting, raw: str, choices: Iterable[str] | None = None) -> Any:
    """Parse one submitted value of a single-valued setting; SettingsError carries the message to show."""
    text = raw.strip()
    kind = setting.kind
    if kind == "bool":
        if text.lower() in ("1", "true", "on", "yes"):
            return True
        if text.lower() in ("0", "false", "off", "no", ""):
            return False
        raise SettingsError("Choose on or off.")
    if kind in ("int", "decimal"):
        return _parse_number(setting, text)
    if kind == "currency":
        code = text.upper()
        if not _CURRENCY.match(code):
            raise SettingsError("Enter a three-letter ISO 4217 currency code, e.g. USD.")
        return code
    if kind == "choice":
        allowed = [c for c, _ in setting.choices]
        if text not in allowed:
            raise SettingsError("Choose one of: " + ", ".join(label for _, label in setting.choices) + ".")
        return text
    if kind == "pattern":
        check_pattern(text)
        return text
    if kind == "text":
        if setting.max_length is not None and len(text) > setting.max_length:
            raise SettingsError(f"Keep it to {setting.max_length} characters or fewer.")
        _check_template(text, setting.placeholders)
        return text
    raise SettingsError("This setting cannot be set here.")


def _parse_number(setting: Setting, text: str) -> int | float:
    if not text:
        raise SettingsError("Enter a number.")
    try:
        number = Decimal(text.replace(",", ".")) if setting.kind == "decimal" else Decimal(text)
    except InvalidOperation:
        raise SettingsError("Enter a whole number." if setting.kind == "int" else "Enter a number.") from None
    if not number.is_finite():
        raise SettingsError("Enter a number.")
    if setting.kind == "int" and number != number.to_integral_value():
        raise SettingsError("Enter a whole number.")
    if setting.kind == "decimal" and number.as_tuple().exponent < -2:  # type: ignore[operator]
        raise SettingsError("Use at most two decimals.")
    low, high = setting.minimum, setting.maximum
    if low is not None and number < Decimal(str(low)):
        raise SettingsError(f"Enter {_plain(low)} or more.")
    if high is not None and number > Decimal(str(high)):
        raise SettingsError(f"Enter {_plain(high)} or less.")
    if setting.kind == "int" or number == number.to_integral_value():
        return int(number)
    return float(number)


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _check_template(text: str, placeholders: tuple[str, ...]) -> None:
    if not placeholders:
        return
    for name in _TEMPLATE_FIELD.findall(text):
        if name not in placeholders:
            allowed = " ".join("{" + p + "}" for p in placeholders)
            raise SettingsError(f"Unknown placeholder {{{name}}}; use {allowed}.")
    if text.count("{") != text.count("}"):
        raise SettingsError("Every { needs a matching }.")


def check_pattern(pattern: str) -> None:
    """Raise SettingsError unless `pattern` is a usable invoice numbering pattern."""
    if not pattern:
        raise SettingsError("Enter a numbering pattern, e.g. INV-{YYYY}-{SEQ:4}.")
    if len(pattern) > 40:
        raise SettingsError("Keep the pattern to 40 characters or fewer.")
    seqs = 0
    for token in _PATTERN_TOKEN.findall(pattern):
        seq = _SEQ.match(token)
        if seq:
            seqs += 1
            width = int(seq.group(1) or 1)
            if not 1 <= width <= 12:
                raise SettingsError("{SEQ:n} takes a width from 1 to 12.")
        elif token not in _DATE_TOKENS:
            raise SettingsError(f"Unknown placeholder {{{token}}}; use {{YYYY}}, {{YY}}, {{MM}}, {{DD}} or {{SEQ:n}}.")
    literal = _PATTERN_TOKEN.sub("", pattern)
    if "{" in literal or "}" in literal:
        raise SettingsError("Every { needs a matching }.")
    if not _PATTERN_LITERAL.match(literal):
        raise SettingsError("Use letters, digits, spaces and - _ / . # outside placeholders.")
    if seqs != 1:
        raise SettingsError("Include {SEQ} (or {SEQ:n}) exactly once, so every number is unique.")


def preview_invoice_number(pattern: str, next_seq: int, today: date) -> str:
    """The invoice number `pattern` gives for sequence `next_seq` on `today`; SettingsError when unusable."""
    check_pattern(pattern)

    def replace(match: re.Match[str]) -> str:
        token = match.group(1)
        seq = _SEQ.match(token)
        if seq:
            return str(next_seq).zfill(int(seq.group(1) or 1))
        return {
            "YYYY": f"{today.year:04d}",
            "YY": f"{today.year % 100:02d}",
            "MM": f"{today.month:02d}",
            "DD": f"{today.day:02d}",
        }[token]

    return _PATTERN_TOKEN.sub(replace, pattern)


def validate(
    form: Any,
    *,
    current: Mapping[str, Any] | None = None,
    options: Mapping[str, Iterable[str]] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse the submitted keys of `form` (a MultiDict); return (values, errors keyed like the form).

    Only keys present in the form are parsed, so a partial submission changes only what it names. Boolean
    and multi-select fields carry a hidden marker input, so "present" also covers an unticked box or an
    empty selection. `options` limits multi-select values to known ids (the workspace's groups, clients).
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for setting in SCHEMA:
        if setting.key not in form:
            continue
        submitted = [v for v in form.getlist(setting.key) if isinstance(v, str)]
        try:
            if setting.kind == "multi":
                chosen = list(dict.fromkeys(v.strip() for v in submitted if v.strip()))
                allowed = None if options is None else options.get(setting.key)
                if allowed is not None:
                    unknown = [v for v in chosen if v not in set(allowed)]
                    if unknown:
                        raise SettingsError("Choose only from the list; " + f"{len(unknown)} choice(s) are unknown.")
                if len(chosen) > 500:
                    raise SettingsError("Choose 500 or fewer.")
                values[setting.key] = chosen
            elif setting.kind == "bool":
                # Hidden "0" then the checkbox's "1": the last one sent wins.
                values[setting.key] = parse_value(setting, submitted[-1] if submitted else "")
            else:
                if len(submitted) != 1:
                    raise SettingsError("Send one value.")
                values[setting.key] = parse_value(setting, submitted[0])
        except SettingsError as exc:
            errors[setting.key] = str(exc)

    merged = {**defaults(), **(current or {}), **values}
    under, over = merged["scheduling.under_max_percent"], merged["scheduling.over_min_percent"]
    if (
        "scheduling.under_max_percent" not in errors
        and "scheduling.over_min_percent" not in errors
        and isinstance(under, int)
        and isinstance(over, int)
        and over - under < 2
    ):
        # Blame the band the admin just moved (the form sends both).
        before = {**defaults(), **(current or {})}
        key = "scheduling.over_min_percent"
        if not same_value(before["scheduling.under_max_percent"], under) and same_value(
            before["scheduling.over_min_percent"], over
        ):
            key = "scheduling.under_max_percent"
        errors[key] = "Leave a full band: over-allocated must start at least 2 points above under-allocated."
    return values, errors


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)
