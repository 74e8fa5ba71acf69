"""Capacity arithmetic on Clockify's shapes: half days, hours in the person's zone, holidays for whom, units."""

from __future__ import annotations

from datetime import date

from addon.clockify.payloads import TimeOffRequest
from addon.scheduling.capacity import absence_of, capacity_by_day, parse_holiday
from addon.workspace.directory import Directory
from addon.workspace.totals import PersonCapacity, capacity_per_day_seconds, working_days_of

MONDAY = date(2026, 11, 30)


def person(user_id: str = "u1", hours: float = 8) -> PersonCapacity:
    return PersonCapacity(user_id, "Ana", "ACTIVE", int(hours * 3600), working_days_of(None), {})


def request(**period: object) -> TimeOffRequest:
    return TimeOffRequest.from_api(
        {
            "id": "r1",
            "userId": "u1",
            "policyName": "Vacation",
            "status": {"statusType": "APPROVED"},
            "timeUnit": period.pop("unit", "DAYS"),
            "userTimeZone": period.pop("zone", "UTC"),
            "timeOffPeriod": {"halfDay": period.pop("half", False), "period": period},
        }
    )


def test_capacity_per_day_is_read_in_seconds_as_documented_and_in_hours_as_the_sandbox_sends():
    assert capacity_per_day_seconds(25200) == 7 * 3600
    assert capacity_per_day_seconds(8) == 8 * 3600
    assert capacity_per_day_seconds("junk") == 0
    assert working_days_of('["MONDAY","TUESDAY"]') == frozenset({"MONDAY", "TUESDAY"})


def test_a_half_day_takes_half_the_days_capacity_and_says_so():
    away = absence_of(request(start="2026-12-01T00:00:00Z", end="2026-12-01T23:59:59Z", half=True), "UTC")
    days = capacity_by_day({"u1": person()}, [MONDAY, date(2026, 12, 1)], [], [away], Directory({}, []))
    assert days["u1"][date(2026, 12, 1)].net == 4 * 3600
    assert days["u1"][date(2026, 12, 1)].reasons == ("Vacation (half day)",)
    assert days["u1"][MONDAY].net == 8 * 3600


def test_hours_off_are_taken_from_the_persons_own_calendar_day():
    # 22:00 to 02:00 UTC is 23:00 to 03:00 in Berlin: one hour on Monday, three on Tuesday.
    away = absence_of(
        request(start="2026-11-30T22:00:00Z", end="2026-12-01T02:00:00Z", unit="HOURS", zone="Europe/Berlin"), "UTC"
    )
    days = capacity_by_day({"u1": person()}, [MONDAY, date(2026, 12, 1)], [], [away], Directory({}, []))
    assert days["u1"][MONDAY].net == 7 * 3600
    assert days["u1"][date(2026, 12, 1)].net == 5 * 3600


def test_a_holiday_counts_only_for_whom_it_is_and_an_annual_one_every_year():
    group_holiday = parse_holiday(
        {
            "name": "Team day",
            "datePeriod": {"startDate": "2025-12-02", "endDate": "2025-12-02"},
            "userGroupIds": ["g1"],
            "occursAnnually": True,
        }
    )
    directory = Directory({}, [{"id": "g1", "userIds": ["u1"]}])
    days = capacity_by_day(
        {"u1": person("u1"), "u2": person("u2")}, [date(2026, 12, 2)], [group_holiday], [], directory
    )
    assert days["u1"][date(2026, 12, 2)].net == 0 and days["u1"][date(2026, 12, 2)].reasons == ("holiday: Team day",)
    assert days["u2"][date(2026, 12, 2)].net == 8 * 3600


def test_weekends_have_no_capacity_to_reduce():
    saturday = date(2026, 12, 5)
    away = absence_of(request(start="2026-12-05T00:00:00Z", end="2026-12-05T23:59:59Z"), "UTC")
    days = capacity_by_day({"u1": person()}, [saturday], [], [away], Directory({}, []))
    assert days["u1"][saturday].base == 0 and days["u1"][saturday].reasons == ()
