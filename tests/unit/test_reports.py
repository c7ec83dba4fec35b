"""Report weeks and the report documents drawn from plain data (intake.reports,
intake.reportdocs): ISO weeks at the New Year, weeks a year does not have, last week by
default, and the weekly report's template filled without a database."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from docx import Document

from intake.documents import TEMPLATES
from intake.items import QueryError
from intake.reportdocs import (
    LEADS_TEMPLATE,
    WEEKLY_TEMPLATE,
    CountRow,
    LeadLine,
    WeeklyReport,
    span_words,
    template_path,
    weekly_report_docx,
    weekly_summary,
)
from intake.reports import Week, last_week, parse_week
from intake.workdays import CHINA

NOW = datetime(2026, 3, 18, 2, tzinfo=UTC)  # Wednesday 18 March, Beijing time


@pytest.mark.parametrize(("value", "start", "end"), [
    ("2026-W11", date(2026, 3, 9), date(2026, 3, 15)),
    ("2026-W01", date(2025, 12, 29), date(2026, 1, 4)),  # begins in the old year
    ("2026-W53", date(2026, 12, 28), date(2027, 1, 3)),  # 2026 starts on a Thursday: 53 weeks
    ("2026-w09", date(2026, 2, 23), date(2026, 3, 1)),
    ("2026W9", date(2026, 2, 23), date(2026, 3, 1)),
])
def test_iso_weeks(value: str, start: date, end: date) -> None:
    week = parse_week(value, NOW, CHINA)
    assert (week.start, week.end) == (start, end)
    assert week.start.weekday() == 0 and week.end.weekday() == 6


@pytest.mark.parametrize(("value", "words"), [
    ("2025-W53", "2025 年只有 52 周"),
    ("2026-W54", "2026 年只有 53 周"),
    ("2026-W00", "1 到 53"),
    ("2026-03-09", "格式"),
    ("W11", "格式"),
    ("1999-W10", "年份"),
])
def test_a_week_the_year_does_not_have_is_refused_naming_the_field(value: str,
                                                                    words: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_week(value, NOW, CHINA)
    assert caught.value.field == "week" and words in caught.value.message


def test_last_week_is_the_default_and_crosses_the_new_year() -> None:
    assert parse_week("", NOW, CHINA) == Week(2026, 11)
    # Monday 4 January 2027 (Beijing), just after midnight: still UTC's Sunday
    assert last_week(datetime(2027, 1, 3, 16, 30, tzinfo=UTC), CHINA) == Week(2026, 53)
    assert last_week(datetime(2026, 1, 1, 4, tzinfo=UTC), CHINA) == Week(2025, 52)


def test_a_week_s_instants_are_in_the_round_s_zone() -> None:
    period = Week(2026, 1).period(CHINA)
    assert period.since == datetime(2025, 12, 29, tzinfo=CHINA)
    assert period.until == datetime(2026, 1, 5, tzinfo=CHINA)


def test_spans_name_the_year_again_only_across_it() -> None:
    assert span_words(date(2026, 3, 9), date(2026, 3, 15)) == "2026年3月9日至3月15日"
    assert span_words(date(2025, 12, 29), date(2026, 1, 4)) == "2025年12月29日至2026年1月4日"


def report(**changes: object) -> WeeklyReport:
    values: dict[str, object] = dict(
        team="县委第一巡察组", round_name="县委第一巡察组 2026年第一轮", unit="中共青山镇委员会",
        week_no=18, iso_week="2026-W01", start=date(2025, 12, 29), end=date(2026, 1, 4),
        opened=date(2025, 9, 1), as_of=date(2026, 1, 4), dated=date(2026, 1, 5),
        received=CountRow("合计", 0, 40), channels=[CountRow("来信", 0, 40)],
        triage=[CountRow("属于受理范围", 0, 30), CountRow("不属于受理范围", 0, 10),
                CountRow("待研判", 0, 0)],
        disciplines=[CountRow("廉洁纪律", 0, 12)], leads=[], leads_total=9, transfers=[],
        transfers_total=4, closed=[], overdue=[], repeats=CountRow("重复件", 0, 2),
        notices=CountRow("告知反映人", 0, 7))
    values.update(changes)
    return WeeklyReport(**values)  # type: ignore[arg-type]


def test_a_quiet_week_across_the_new_year_says_so_in_words() -> None:
    document = Document(io.BytesIO(weekly_report_docx(report())))
    text = [p.text for p in document.paragraphs if p.text.strip()]
    assert "（第18周）" in text
    assert "统计时段：2025年12月29日至2026年1月4日（2026-W01）" in text
    assert "本周无新受理的问题线索。" in text and "本周无转办事项。" in text
    assert "截至本周末尚无办结件。" in text and "截至2026年1月4日，超期未办0件。" in text
    assert text[-1].strip() == "二〇二六年一月五日"  # dated as a 公文 is, under the team's name
    summary = weekly_summary(report())
    assert summary.startswith("本周共受理信访举报0件；其中属于本轮巡察受理范围0件")
    assert "累计受理信访举报40件，形成问题线索9件，转办4件。" in summary
    assert summary.endswith("无超期未办件。")


def test_what_staff_typed_is_printed_never_run_as_template_code() -> None:
    lead = LeadLine("青山巡线〔2026〕001号", date(2026, 1, 2), "{{ 7*7 }}{% raw %}", "廉洁纪律",
                    "<b>triager</b>", "初步核实")
    document = Document(io.BytesIO(weekly_report_docx(report(leads=[lead]))))
    row = [c.text for c in document.tables[3].rows[1].cells]
    assert row[3] == "{{ 7*7 }}{% raw %}" and row[5] == "<b>triager</b>"


def test_an_office_s_edited_template_is_used_and_the_others_stay_built_in(tmp_path: Path) -> None:
    edited = Document(str(TEMPLATES / WEEKLY_TEMPLATE))
    edited.paragraphs[0].insert_paragraph_before("临川县委巡察办 印发")
    edited.save(str(tmp_path / WEEKLY_TEMPLATE))
    assert template_path(WEEKLY_TEMPLATE, str(tmp_path)) == tmp_path / WEEKLY_TEMPLATE
    assert template_path(LEADS_TEMPLATE, str(tmp_path)) == TEMPLATES / LEADS_TEMPLATE
    assert template_path(WEEKLY_TEMPLATE, "") == TEMPLATES / WEEKLY_TEMPLATE
    document = Document(io.BytesIO(weekly_report_docx(report(), str(tmp_path))))
    assert document.paragraphs[0].text == "临川县委巡察办 印发"
    assert "（第18周）" in [p.text for p in document.paragraphs]
