"""Hotline hours on the official working-day calendar (holidays and 调休 make-up days)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from intake.round import load_round, parse_round
from intake.settings import EXAMPLE_ROUND
from intake.workdays import add_working_days, hotline_flags, working_day

CST = timezone(timedelta(hours=8))
ROUND = load_round(EXAMPLE_ROUND)  # hours 08:00-12:00, 14:30-17:30; 2026-03-02 to 04-10 17:30


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CST)


@pytest.mark.parametrize(("when", "flags"), [
    ("2026-03-05 09:00", []),                                   # Thursday morning
    ("2026-03-05 08:00", []),                                   # the first minute
    ("2026-03-05 12:00", []),                                   # the last minute
    ("2026-03-05 12:30", ["outside_hours"]),                    # lunch break
    ("2026-03-05 14:29", ["outside_hours"]),
    ("2026-03-05 17:31", ["outside_hours"]),
    ("2026-03-05 21:00", ["outside_hours"]),
    ("2026-03-07 10:00", ["non_working_day"]),                  # Saturday
    ("2026-04-06 10:00", ["non_working_day"]),                  # Monday, Qingming holiday
    ("2026-04-07 10:00", []),                                   # back to work
    ("2026-02-14 10:00", ["before_open"]),                      # Saturday, but a 调休 workday
    ("2026-03-02 07:59", ["before_open", "outside_hours"]),
    ("2026-04-10 17:00", []),
    ("2026-04-10 17:45", ["after_close", "outside_hours"]),
    ("2026-04-11 10:00", ["after_close", "non_working_day"]),
])
def test_hotline_flags_follow_the_official_calendar(when: str, flags: list[str]) -> None:
    assert hotline_flags(at(when), ROUND) == flags


def test_flags_read_the_clock_in_the_rounds_time_zone() -> None:
    # 01:30 UTC is 09:30 in China: inside the hours.
    assert hotline_flags(datetime(2026, 3, 5, 1, 30, tzinfo=UTC), ROUND) == []


def test_a_year_the_calendar_does_not_know_assumes_weekdays_and_says_so() -> None:
    day = working_day(date(2031, 5, 5), ROUND)  # a Monday
    assert day.working and not day.official
    assert "calendar_assumed" in hotline_flags(at("2031-05-05 09:00"), ROUND)


def test_the_round_file_can_correct_the_calendar() -> None:
    text = ROUND.source_text.replace(
        "  hotline:", "  calendar:\n    holidays: [2031-05-05]\n    workdays: ['2031-05-10']\n"
                      "  hotline:", 1)
    rnd = parse_round(text)
    assert working_day(date(2031, 5, 5), rnd).working is False
    assert working_day(date(2031, 5, 10), rnd).working is True  # a Saturday made a workday
    assert working_day(date(2031, 5, 5), rnd).official


def test_add_working_days_skips_weekends_and_holidays() -> None:
    # Thursday 2 April 2026 + 3 working days: Fri 3rd, (4-6 Qingming), Tue 7th, Wed 8th.
    assert add_working_days(date(2026, 4, 2), 3, ROUND) == date(2026, 4, 8)
    assert add_working_days(date(2026, 4, 2), 0, ROUND) == date(2026, 4, 2)


def test_no_hours_published_means_no_hours_flag() -> None:
    rnd = replace(ROUND, hotline_hours=())
    assert hotline_flags(at("2026-03-05 21:00"), rnd) == []
