"""Item deadlines as pure functions of receipt time, status and the round's calendar."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from intake.items import Facts, deadlines
from intake.round import load_round
from intake.settings import EXAMPLE_ROUND
from intake.store import models as m

CST = timezone(timedelta(hours=8))
ROUND = load_round(EXAMPLE_ROUND)


def item(received: datetime, *, status: str = "received", anonymous: bool = True
         ) -> m.Submission:
    return m.Submission(received_at=received, status=status, anonymous=anonymous)


def due(row: m.Submission, *, replied: bool = False, rnd: object = ROUND) -> dict[str, date]:
    return {d.kind: d.due for d in deadlines(row, rnd, Facts(notified=replied))}  # type: ignore[arg-type]


@pytest.mark.parametrize(("received", "triage"), [
    # National Day 2026: 1–7 October off, Saturday 10 October a make-up working day
    (datetime(2026, 9, 28, 10, tzinfo=CST), date(2026, 10, 23)),
    (datetime(2026, 9, 30, 23, tzinfo=CST), date(2026, 10, 27)),
    (datetime(2026, 9, 29, 20, tzinfo=UTC), date(2026, 10, 27)),  # the 30th at +08:00
    (datetime(2026, 3, 10, 9, tzinfo=CST), date(2026, 3, 31)),  # an ordinary month
    (datetime(2026, 3, 14, 9, tzinfo=CST), date(2026, 4, 3)),  # received on a Saturday
])
def test_triage_is_the_15th_working_day_after_receipt(received: datetime, triage: date) -> None:
    found = due(item(received))
    assert found == {"triage": triage, "close": received.astimezone(CST).date()
                     + timedelta(days=60)}


def test_a_named_reporter_is_owed_an_answer_and_the_round_can_add_holidays() -> None:
    row = item(datetime(2026, 3, 10, 9, tzinfo=CST), anonymous=False)
    assert due(row)["reply_accept"] == date(2026, 3, 31)
    local = replace(ROUND, holidays=frozenset({date(2026, 3, 20)}))
    assert due(row, rnd=local)["triage"] == date(2026, 4, 1)


@pytest.mark.parametrize(("status", "replied", "overdue"), [
    ("received", False, {"triage", "reply_accept", "close"}),
    ("triaged", True, {"triage", "close"}),
    ("accepted", False, {"reply_accept", "close"}),
    ("closed", True, set()),
    ("spam", False, set()),
])
def test_a_step_is_overdue_after_its_day_until_it_is_done(status: str, replied: bool,
                                                           overdue: set[str]) -> None:
    row = item(datetime(2026, 1, 5, 9, tzinfo=CST), status=status, anonymous=False)
    found = deadlines(row, ROUND, Facts(notified=replied))
    today = date(2026, 6, 1)
    assert {d.kind for d in found if d.overdue(today)} == overdue
    assert not any(d.overdue(d.due) for d in found)  # the due day itself is still in time
