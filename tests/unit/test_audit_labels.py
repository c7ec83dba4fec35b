"""Every audit action and detail key the code records has a Chinese name; unknown codes and keys
show as they are."""

from __future__ import annotations

import ast
import re

from intake.audit import ACTION_LABELS, action_label
from intake.audit.labels import DETAIL_LABELS, action_choices, detail_items, same_label_codes
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


def recorded_detail_keys() -> set[str]:
    """The keyword names passed to db_record as detail, and the export's filter keys."""
    found: set[str] = set()
    own = {"actor_id", "actor_label", "submission_id", "reason", "details"}
    for path in [*REPO.glob("intake/**/*.py"), *REPO.glob("handlers/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(
                    node.func, "id", getattr(node.func, "attr", None)) == "db_record":
                found.update(k.arg for k in node.keywords if k.arg and k.arg not in own)
    from datetime import date

    from intake.audit.trail import TrailFilters

    return found | set(TrailFilters("a", "b", 1, date.today(), date.today()).as_detail())


def test_every_recorded_detail_key_has_a_chinese_name() -> None:
    keys = recorded_detail_keys()
    assert {"address", "second_factor", "sessions_ended", "since", "filter_action"} <= keys
    assert sorted(k for k in keys if k not in DETAIL_LABELS) == []


def test_details_read_in_chinese() -> None:
    assert detail_items({"address": "127.0.0.1", "second_factor": False}) == [
        ("地址", "127.0.0.1"), ("两步验证", "否")]
    assert detail_items({"since": None, "in_scope": True, "routes": ["a", "b"]}) == [
        ("属受理范围", "是"), ("转办去向", "a、b")]
    assert detail_items({"filter_action": "password.change", "odd": 3}) == [
        ("操作", "修改密码"), ("odd", "3")]
    assert detail_items({}) == [] and detail_items(None) == []


def test_each_label_is_a_choice_once_and_stands_for_all_its_codes() -> None:
    labels = [label for _, label in action_choices()]
    assert len(labels) == len(set(labels)) == len(set(ACTION_LABELS.values()))
    assert sorted(same_label_codes("password.change")) == ["password.change",
                                                            "staff.password_change"]
    assert sorted(same_label_codes("login.success")) == ["login.success", "staff.login"]
    assert same_label_codes("logout") == ["logout"]
    assert same_label_codes("some.new_code") == ["some.new_code"]
