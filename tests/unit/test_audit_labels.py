"""Every audit action the code records has a Chinese label; unknown codes show as they are."""

from __future__ import annotations

import re

from intake.audit import ACTION_LABELS, action_label
from tests.support import REPO

# Codes built at run time, by the f-strings that record them.
BUILT = {
    'f"decision.{action}"': ("decision.confirm", "decision.correct"),
    'f"appointment_{status}"': ("appointment_confirmed", "appointment_declined"),
    'f"{action}.refused"': ("identity.reveal.refused", "mail.raw_download.refused"),
}


def recorded_actions() -> set[str]:
    found: set[str] = set()
    for path in [*REPO.glob("intake/**/*.py"), *REPO.glob("handlers/**/*.py")]:
        source = path.read_text(encoding="utf-8")
        for call in re.finditer(r"db_record\(\s*\w+,\s*(f?\"[^\"]+\"(?: if \w+ else \"[^\"]+\")?)",
                                source):
            for literal in re.findall(r'f?"[^"]+"', call.group(1)):
                found.update(BUILT.get(literal, (literal.strip('"'),)))
    return found


def test_every_recorded_action_has_a_chinese_label() -> None:
    actions = recorded_actions()
    assert {"identity.reveal", "reply.send", "export.plain", "scan.page_view"} <= actions
    assert sorted(a for a in actions if a not in ACTION_LABELS) == []
    assert all(re.search(r"[\u4e00-\u9fff]", label) for label in ACTION_LABELS.values())


def test_unknown_codes_are_shown_as_they_are() -> None:
    assert action_label("identity.reveal") == "查看举报人身份"
    assert action_label("login.failure") == "登录失败"
    assert action_label("something.new") == "something.new"
