"""The digest's pure parts: when a day's mail is due, its text, and the recipients setting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from intake.digest import Clock, Digest, digest_day, digest_text
from intake.settings import SettingsError, load_settings

CST = timezone(timedelta(hours=8))


def test_yesterdays_digest_is_due_from_the_hour_beijing_time() -> None:
    assert digest_day(datetime(2026, 10, 27, 7, 59, tzinfo=CST), 8) is None
    assert digest_day(datetime(2026, 10, 27, 8, tzinfo=CST), 8) == date(2026, 10, 26)
    # 23:30 UTC is already 07:30 the next morning in Beijing
    assert digest_day(datetime(2026, 10, 26, 23, 30, tzinfo=UTC), 7) == date(2026, 10, 26)


def test_the_text_has_counts_and_references_only() -> None:
    d = Digest(date(2026, 10, 26), ("青山镇巡察",), {"web": 2, "letter": 1, "email": 0}, 1,
               ["青山巡线〔2026〕003号"], [("青山巡转〔2026〕2号", "卫健局")],
               {"accepted": ["青山巡转〔2026〕1号"], "result": [], "returned": []},
               [("第 7 号", "不予处理")],
               [Clock("第 1 号", 1, "triage", date(2026, 10, 23))],
               [Clock("青山巡线〔2026〕003号", 9, "transfer_reply", date(2026, 10, 28),
                      "青山巡转〔2026〕1号")], 2, 1, date(2026, 10, 23))
    text = digest_text(d, "县委第一巡察组")
    assert text.startswith("县委第一巡察组 受理工作日报 2026-10-26")
    assert "收件 3 件：网络举报 2，来信 1（另有垃圾信息 1 件）" in text
    assert "受理为线索 1 件：青山巡线〔2026〕003号" in text
    assert "转办 1 件：青山巡转〔2026〕2号（卫健局）" in text
    assert "登记转办答复 受理 1 件：青山巡转〔2026〕1号" in text
    assert "办结 1 件：第 7 号（不予处理）" in text
    assert "新增超期 1 项\n  第 1 号 研判 期限 2026-10-23" in text
    assert "青山巡线〔2026〕003号 转办结果（青山巡转〔2026〕1号） 期限 2026-10-28" in text
    assert "待寄告知书 2 份，待回访电话 1 个" in text


def test_digest_recipients_from_the_file_or_a_variable() -> None:
    assert load_settings(env={}).digest_recipients == {}
    found = load_settings(env={"INTAKE_DIGEST_RECIPIENTS":
                               '{"县委第一巡察组": ["a@example.cn", "b@example.cn"]}'})
    assert found.digest_recipients == {"县委第一巡察组": ("a@example.cn", "b@example.cn")}
    found = load_settings(env={}, digest_recipients={"县委第二巡察组": "c@example.cn"})
    assert found.digest_recipients == {"县委第二巡察组": ("c@example.cn",)}
    for bad in ("[1, 2]", '{"组": ["not an address"]}', "{组: [a@b"):
        with pytest.raises(SettingsError, match="digest_recipients"):
            load_settings(env={"INTAKE_DIGEST_RECIPIENTS": bad})
