"""The words reporters read of what became of their report (intake.notices)."""

from __future__ import annotations

from datetime import date
from string import Template

from intake import notices
from intake.store import models as m


def test_each_notice_says_in_plain_words_what_happened() -> None:
    day = date(2026, 3, 2)
    assert notices.notice_text("accepted", received_on=day).startswith(
        "您于2026年3月2日反映的问题已收到。经研究，已予受理")
    moved = notices.notice_text("transferred", received_on=day, department_name="临川县人社局")
    assert "不属于本轮巡察受理范围，已按规定转交临川县人社局办理" in moved
    assert "转交有关部门办理" in notices.notice_text("transferred", received_on=day)
    assert "办理情况：已责令补发工资。" in notices.notice_text("result", received_on=day,
                                                           result="已责令补发工资")
    assert notices.RESULT_DEFAULT in notices.notice_text("result", received_on=day)


def test_a_template_can_name_nobody() -> None:
    for template in notices.TEMPLATES.values():
        names = {m.group("named") or m.group("braced")
                 for m in Template.pattern.finditer(template) if m.group("named") or
                 m.group("braced")}
        assert names <= {"received", "department", "result"}


def test_notices_go_where_the_reporter_reads() -> None:
    def row(channel: str, anonymous: bool = False) -> m.Submission:
        return m.Submission(channel=channel, anonymous=anonymous)

    assert notices.delivery_for(row("email", True), "a@b.cn", "", "") == "status_page"
    assert notices.delivery_for(row("email"), "a@b.cn", "", "") == "email"
    assert notices.delivery_for(row("letter"), "", "东岭村三组", "139") == "letter"
    assert notices.delivery_for(row("hotline"), "", "", "13912345678") == "callback"
    assert notices.delivery_for(row("web"), "", "", "") == "status_page"
    assert notices.delivery_for(row("web"), "", "", "139") == "callback"
