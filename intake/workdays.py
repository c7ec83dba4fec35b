"""Working days on the official calendar (holidays and 调休 make-up days), and hotline hours.

The official schedule comes from the `chinese-calendar` package, which knows each year once the
State Council has published it. The round file may correct or extend it (`round.calendar`);
for a year neither knows, Monday to Friday are working days and the answer says it guessed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import chinese_calendar

from intake.round import Round

CHINA = timezone(timedelta(hours=8), "CST")  # the service's local time, for display


@dataclass(frozen=True)
class WorkingDay:
    working: bool
    official: bool  # False: the year is not in the calendar, weekdays were assumed


def working_day(day: date, rnd: Round) -> WorkingDay:
    if day in rnd.workdays:
        return WorkingDay(True, True)
    if day in rnd.holidays:
        return WorkingDay(False, True)
    official = _official_workday(day)
    if official is None:
        return WorkingDay(day.weekday() < 5, False)
    return WorkingDay(official, True)


@functools.lru_cache(maxsize=8192)
def _official_workday(day: date) -> bool | None:
    """chinese-calendar's answer, None for a year it does not know. Cached: the package checks
    the date's range against its whole table on every call (about 80 µs), and a ledger asks
    for the deadlines of thousands of items, each counting 15 working days ahead."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def add_working_days(start: date, days: int, rnd: Round) -> date:
    """The date `days` working days after `start` (time limits such as 15 working days)."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if working_day(current, rnd).working:
            days -= 1
    return current


def round_flags(at: datetime, rnd: Round) -> list[str]:
    """"before_open" / "after_close" for an item taken in outside the round (any channel)."""
    flags = []
    if at < rnd.opens:
        flags.append("before_open")
    if at > rnd.closes:
        flags.append("after_close")
    return flags


def hotline_flags(at: datetime, rnd: Round) -> list[str]:
    """What is unusual about a call at `at`: never a reason to refuse it, a fact for staff.

    The round's flags, then "non_working_day": a weekend or holiday on the official
    calendar; "outside_hours": a working day, but outside the published hours;
    "calendar_assumed": the year is not in the calendar, Monday to Friday were assumed.
    """
    local = at.astimezone(rnd.opens.tzinfo)
    flags = round_flags(at, rnd)
    day = working_day(local.date(), rnd)
    if not day.official:
        flags.append("calendar_assumed")
    if not day.working:
        flags.append("non_working_day")
    elif rnd.hotline_hours and not any(
        h.start <= local.time().replace(tzinfo=None) <= h.end for h in rnd.hotline_hours
    ):
        flags.append("outside_hours")
    return flags
