"""Duplicates across channels, through ingest(): linked for triagers with evidence, never merged."""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import delete, func, select

from intake import duplicates
from intake.desk import Desk
from intake.pipeline import ingest
from intake.store import models as m
from tests.support import make_submission, staff_client

WEB = (
    "尊敬的巡察组领导：东岭村党支部书记刘德福利用职务便利，在2023年的危房改造项目中收取农户"
    "好处费5000元。他还把东岭村的低保名额给了自己的亲戚，7户真正困难的群众没有享受到。"
    "村里的财务账目已经3年没有公开，村民多次要求查账都被刘德福拒绝。希望巡察组调查核实。"
)
HOTLINE = (
    "来电人反映：东岭村党支部书记刘德福在2023年的危房改造项目中收取农户好处费5000元，"
    "把东岭村的低保名额给了自己的亲戚，7户真正困难的群众没有享受到；村里财务账目3年没有"
    "公开，村民要求查账被刘德福拒绝。来电人要求不公开其身份。"
)
OTHER_MATTER = (
    "尊敬的巡察组：东岭村党支部书记刘德福的儿子承包了村里的道路硬化工程，没有经过招标，"
    "工程款里有5000元被他拿去请客送礼，路刚修好半年就开裂了。"
)
UNRELATED = (
    "南河村党总支书记马德才在换届选举前给党员送购物卡，每张面值800元。他还公车私用，周末开着"
    "镇里的公车接送孩子上学。群众对此意见很大。"
)
T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def take(desk: Desk, text: str, channel: str = "web", minutes: int = 0, **kw) -> int:
    sub = make_submission(text=text, channel=channel, received_at=T0 + timedelta(minutes=minutes),
                          **kw)
    return ingest(desk, sub).submission_id


def links(desk: Desk) -> list[tuple[int, int, str, float | None, list]]:
    with desk.sessions() as session:
        return [(x.submission_id, x.other_id, x.reason, x.score, x.evidence)
                for x in session.scalars(select(m.DuplicateLink).order_by(m.DuplicateLink.id))]


def test_hotline_retelling_of_a_web_report_is_a_near_duplicate(desk: Desk) -> None:
    web = take(desk, WEB)
    call = take(desk, HOTLINE, "hotline", 60)
    [(new, old, reason, score, evidence)] = links(desk)
    assert (new, old, reason) == (call, web, "near")
    assert duplicates.NEAR_THRESHOLD <= score < 1
    assert evidence and any("低保名额给了自己的亲戚" in e for e in evidence)
    with desk.sessions() as session:  # nothing merged: two items, each as received
        assert session.scalar(select(func.count()).select_from(m.Submission)) == 2


def test_exact_copy_by_email(desk: Desk) -> None:
    web = take(desk, WEB)
    mail = take(desk, "\n".join(WEB.split("。")), "email", 5)  # other line breaks, same words
    assert links(desk) == [(mail, web, "exact", 1.0, ["去掉空格和标点后全文相同"])]


def test_same_matter_same_person_and_shared_fact(desk: Desk) -> None:
    web = take(desk, WEB)
    other = take(desk, OTHER_MATTER, "letter", 30)
    [(new, old, reason, _, evidence)] = links(desk)
    assert (new, old, reason) == (other, web, "same_matter")
    assert evidence[0] == "均反映刘德福"
    assert "相同数额：5000元" in evidence


def test_unrelated_items_are_not_linked(desk: Desk) -> None:
    take(desk, WEB)
    take(desk, UNRELATED, "hotline", 5)
    take(desk, "刘德福贪污", "web", 10)  # tiny: no near link, no fact to share
    assert links(desk) == []


def test_spam_is_indexed_but_never_linked_to(desk: Desk) -> None:
    take(desk, WEB, suspected_bot=True)
    take(desk, WEB, "email", 5)
    assert links(desk) == []
    with desk.sessions() as session:  # the spam item has its signature should it be rescued
        assert session.scalar(select(func.count()).select_from(m.TextSignature)
                              .where(m.TextSignature.submission_id == 1)) > 0


def test_a_failing_duplicate_step_never_costs_the_item(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    take(desk, WEB)

    def broken(*args: object, **kwargs: object) -> list[int]:
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(duplicates, "db_candidates", broken)
    with caplog.at_level(logging.ERROR):
        second = take(desk, WEB, "email", 5)
    assert "duplicate check failed" in caplog.text
    with desk.sessions() as session:
        assert session.get(m.Submission, second) is not None
        assert session.get(m.Submission, second).current is not None  # classification kept
        # The savepoint took the signature with it: backfill can add it later.
        assert session.scalar(select(func.count()).select_from(m.TextSignature)
                              .where(m.TextSignature.submission_id == second)) == 0
    assert links(desk) == []

    monkeypatch.undo()
    assert duplicates.backfill(desk) == 1
    assert [x[:3] for x in links(desk)] == [(second, 1, "exact")]


def test_a_failing_fingerprint_never_costs_the_item(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("bad text")

    monkeypatch.setattr(duplicates, "fingerprint", broken)
    first = take(desk, WEB)
    with desk.sessions() as session:
        assert session.get(m.Submission, first) is not None


def test_backfill_rebuilds_signatures_without_repeating_links(desk: Desk) -> None:
    web = take(desk, WEB)
    call = take(desk, HOTLINE, "hotline", 60)
    with desk.sessions() as session:
        session.execute(delete(m.TextSignature))
        session.commit()
    assert duplicates.backfill(desk) == 2
    assert duplicates.backfill(desk) == 0  # all indexed
    assert duplicates.backfill(desk, rebuild=True) == 2
    assert [x[:3] for x in links(desk)] == [(call, web, "near")]
    later = take(desk, WEB, "letter", 120)  # the rebuilt index finds the older items
    assert {x[:3] for x in links(desk) if x[0] == later} == {(later, web, "exact"),
                                                            (later, call, "near")}


def test_links_shown_on_the_staff_item_page(app: Flask, desk: Desk) -> None:
    web = take(desk, WEB)
    call = take(desk, HOTLINE, "hotline", 60)
    score = links(desk)[0][3]
    triager = staff_client(app, desk, "t1", "triager")
    page = html.unescape(triager.get(f"/staff/items/{call}").get_data(as_text=True))
    assert "可能重复或相关" in page
    assert f"#{web}</a> 内容相近（相似度 {score:.2f}）" in page
    assert "共同内容：“" in page
    assert "不会自动合并" in page
    back = html.unescape(triager.get(f"/staff/items/{web}").get_data(as_text=True))
    assert f"#{call}</a> 内容相近" in back  # shown from both sides
