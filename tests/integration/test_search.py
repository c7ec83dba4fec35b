"""Full-text search (intake.search): a name typed in any channel found with one search, Chinese
substring semantics, fields kept apart, messages, filters and dates, scope, paging, masked
text only, and an index kept through masking re-runs, the retention purge and the migration.
Real app, real database (SQLite, and PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from flask import Flask
from PIL import Image
from sqlalchemy import select

from intake import duty, letters, search
from intake.desk import Desk
from intake.mail import Envelope, take_in
from intake.maskstore import backfill
from intake.ocr import PageText
from intake.ocrworker import run_pending
from intake.pipeline import add_reporter_message_to, add_team_message, ingest
from intake.protect import Identity
from intake.retention import purge_due
from intake.staff import create_user
from intake.store import models as m
from intake.store.db import alembic_config
from intake.store.models import utcnow
from intake.triage import Actor, QueueFilters, db_queue_page, set_spam
from tests.channels.mailserver import chinese_mail
from tests.integration.test_retention import archive
from tests.integration.test_staff_api import World, all_items, at, world  # noqa: F401
from tests.support import NAMED_IDENTITY, make_submission, staff_client

NAME = "黎光耀"  # a name no other test text carries


@pytest.fixture(autouse=True, params=["probe", "index"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: pages found by probing the queue's newest bodies (what a small
    database always does), and found through the index (a window of one item)."""
    if request.param == "index":
        monkeypatch.setattr(search, "WINDOW", 1)
        monkeypatch.setattr(search, "PROBE_FIRST", 1)
    return str(request.param)


def found(desk: Desk, q: str, **filters: Any) -> list[int]:
    """Ids a queue search finds (outside any staff scope: every round)."""
    with desk.sessions() as db:
        out, cursor = [], None
        while True:
            page = db_queue_page(db, QueueFilters(text=q, **filters), cursor, limit=2)
            out += [row.id for row in page.rows]
            if (cursor := page.next_cursor) is None:
                return out


class FixedEngine:
    """An OCR engine that reads the same text on every page."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read_image(self, image: Image.Image) -> PageText:
        return PageText(self.text, 0.9, 0.01, 0, 0.0)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 80), "white").save(out, "PNG")
    return out.getvalue()


def test_one_search_finds_a_name_from_a_hotline_log_an_email_and_an_ocr_letter(
        desk: Desk) -> None:
    officer, _ = create_user(desk, "officer", "duty_officer", password="long-enough-pw")
    call = duty.log_entry(desk, duty.DeskLog(
        channel="hotline", received_at=datetime(2026, 3, 5, 1, 30, tzinfo=UTC),
        text=f"来电反映：东岭村村主任{NAME}在危房改造中优亲厚友。"), staff_id=officer.id)
    mail = take_in(desk, chinese_mail(body=f"南河村会计{NAME}挪用集体资金，请巡察组核实。")
                   .as_bytes(), Envelope(mail_from="zhang@example.com",
                                         rcpt_tos=("xcz1@intake.example.cn",)))
    batch_id = letters.create_batch(desk, source="postal", box="", opened_at=utcnow(),
                                    note="邮局取信", staff_id=officer.id)
    letters.add_file(desk, batch_id, "来信.png", io.BytesIO(png()))
    letters.finish_batch(desk, batch_id)
    assert run_pending(desk, engine=FixedEngine(
        f"尊敬的巡察组：西坡村{NAME}书记收受工程老板红包。")) == 1
    with desk.sessions() as db:
        letter_id = db.scalar(select(m.ScanLetter.id).where(m.ScanLetter.batch_id == batch_id))
    assert letter_id is not None
    letter = letters.submit_letter(desk, letter_id, staff_id=officer.id, staff_label="officer",
                                   partial_ok=True)
    ingest(desk, make_submission(text="与此无关的一件：镇里的路灯坏了。"))
    expected = {call.submission_id, mail.submission_id, letter.submission_id}
    assert set(found(desk, NAME)) == expected
    assert set(found(desk, NAME[1:])) == expected  # the given name alone: two characters
    assert found(desk, NAME, channel="letter") == [letter.submission_id]


def test_two_characters_phrases_and_no_match_across_fields(desk: Desk) -> None:
    whole = ingest(desk, make_submission(
        title="反映村干部问题", text="东岭村党支部书记刘德福把低保名额给了自己的亲戚。")
    ).submission_id
    split = ingest(desk, make_submission(
        title="反映刘德", text="福利院的伙食费被挪用。")).submission_id
    wide = ingest(desk, make_submission(text="ＡＢＣ公司老板　王 大 山，送了ＵＳＢ卡。")
                  ).submission_id
    assert found(desk, "刘德") == [split, whole] or set(found(desk, "刘德")) == {split, whole}
    assert found(desk, "德福") == [whole]
    assert found(desk, "刘德福") == [whole]  # 刘德 ends the title, 福 opens the text
    assert found(desk, "低保名额给了") == [whole]
    assert found(desk, "低保给了") == []
    assert found(desk, "刘德福，把低保") == [whole]  # punctuation is ignored
    assert set(found(desk, "刘德福 亲戚")) == {whole}  # every word, anywhere in the item
    assert found(desk, "刘德福 伙食费") == []
    assert found(desk, "福") == [split, whole] or set(found(desk, "福")) == {split, whole}
    assert found(desk, "王大山") == [wide]  # spaces, full width and case folded
    assert found(desk, "abc") == found(desk, "ＡＢＣ") == [wide]
    assert found(desk, "usb卡") == [wide]
    assert found(desk, "，。") == []  # punctuation alone is matched as typed
    rare = ingest(desk, make_submission(text="反映𰻝𰻝面馆老板欠薪。")).submission_id
    assert found(desk, "𰻝面") == [rare]  # a character of CJK extension G
    assert found(desk, "𰻝𰻝") == [rare]


def test_messages_are_searched_and_the_passage_shows_where(desk: Desk) -> None:
    officer, _ = create_user(desk, "officer", "triager", password="long-enough-pw")
    item = ingest(desk, make_submission(text="西坡村的账目三年没有公开。")).submission_id
    add_reporter_message_to(desk, item, "补充：村会计打了很多白条子，金额对不上。")
    add_team_message(desk, item, officer.id, "已收到，我们会核实<b>白条</b>问题。")
    assert found(desk, "白条子") == [item]
    assert found(desk, "账目 白条子") == [item]
    with desk.sessions() as db:
        rows = db_queue_page(db, QueueFilters(text="白条")).rows
        match = search.db_matches(db, rows, search.parse("白条"))[item]
    assert match.field == "message"
    assert match.passage == "补充：村会计打了很多白条子，金额对不上。"
    assert [text for text, hit in match.segments if hit] == ["白条"]


def test_a_masked_phone_number_is_not_findable(desk: Desk) -> None:
    receipt = ingest(desk, make_submission(
        anonymous=False, identity=NAMED_IDENTITY,
        text=f"我是{NAMED_IDENTITY.name}，电话{NAMED_IDENTITY.phone}，反映镇长公车私用。"))
    assert found(desk, "公车私用") == [receipt.submission_id]
    for secret in (NAMED_IDENTITY.phone, NAMED_IDENTITY.phone[-4:], NAMED_IDENTITY.name,
                   NAMED_IDENTITY.name[2:]):
        assert found(desk, secret) == [], secret
    with desk.sessions() as db:
        body = db.scalar(select(m.SearchText.body))
    assert body is not None and NAMED_IDENTITY.phone[-4:] not in body


def test_the_index_follows_masking_reruns_and_edits(desk: Desk) -> None:
    receipt = ingest(desk, make_submission(anonymous=False, identity=NAMED_IDENTITY))
    with desk.sessions() as db:  # as a row looked before masking existed
        row = db.get_one(m.Submission, receipt.submission_id)
        row.text = f"{NAMED_IDENTITY.name}，手机{NAMED_IDENTITY.phone}：北山社区主任侵占补偿款。"
        db.add(m.Message(submission_id=row.id, author="reporter",
                         text=f"再补充：电话{NAMED_IDENTITY.phone}"))
        db.commit()
    assert found(desk, NAMED_IDENTITY.phone) == [receipt.submission_id]  # the edit is indexed
    backfill(desk)
    assert found(desk, NAMED_IDENTITY.phone) == []
    assert found(desk, NAMED_IDENTITY.name) == []
    assert found(desk, "侵占补偿款") == [receipt.submission_id]
    with desk.sessions() as db:
        body = db.scalar(select(m.SearchText.body).where(
            m.SearchText.submission_id == receipt.submission_id))
    assert body is not None and NAMED_IDENTITY.phone not in body and "再补充" in body


def test_the_retention_purge_empties_the_index(desk: Desk) -> None:
    kept = ingest(desk, make_submission(text=f"{NAME}的事")).submission_id
    gone = ingest(desk, make_submission(text=f"村主任{NAME}截留补偿款，另有隐情。"))
    add_reporter_message_to(desk, gone.submission_id, "另有隐情的补充。")
    slug = desk.rounds.all()[0].slug
    other = _other_round(desk)
    with desk.sessions() as db:
        db.get_one(m.Submission, kept).round_id = other
        db.commit()
    archive(desk, slug)
    assert purge_due(desk, utcnow() + timedelta(days=1100))
    assert found(desk, NAME) == [kept]
    assert found(desk, "另有隐情") == []
    with desk.sessions() as db:
        assert db.scalar(select(m.SearchText.submission_id).where(
            m.SearchText.submission_id == gone.submission_id)) is None
        if db.get_bind().dialect.name == "sqlite":
            hits = db.connection().exec_driver_sql(
                "SELECT count(*) FROM search_fts WHERE search_fts MATCH '\"隐情\"'").scalar()
            assert hits == 0


def _other_round(desk: Desk) -> int:
    """A second round of the same team (loaded from a copy of the example)."""
    from tests.two_teams import TEAM_A, add_round

    entry = add_round(desk, desk.settings.data_dir, slug="other-2026", team=TEAM_A,
                      name="县委第一巡察组 另一轮")
    return entry.id


def test_the_migration_fills_the_index_from_existing_items(desk: Desk) -> None:
    item = ingest(desk, make_submission(text=f"{NAME}把低保名额给了亲戚。")).submission_id
    officer, _ = create_user(desk, "officer", "triager", password="long-enough-pw")
    add_team_message(desk, item, officer.id, "请补充白条子的照片。")
    cfg = alembic_config(desk.engine)
    command.downgrade(cfg, "0012")
    command.upgrade(cfg, "head")
    assert found(desk, NAME[1:]) == [item]
    assert found(desk, "白条子") == [item]
    assert found(desk, "条子的照片") == [item]


# -- through the staff API and the queue page ------------------------------------------------


def test_api_q_combines_with_dates_status_and_round_inside_the_scope(
        world: World) -> None:  # noqa: F811
    def ids(who: str, query: str) -> list[int]:
        return [i["id"] for i in all_items(world, who, query)]

    assert ids("triager_a", "q=刘德福") == [world.items_a[0]]
    assert ids("triager_b", "q=刘德福") == [world.items_b[1]]  # never the other team's
    assert ids("triager_a", "q=财政所") == [world.named, world.items_a[1]]
    assert ids("triager_a", "q=财政所&since=2026-03-11&until=2026-03-11") == [world.items_a[1]]
    assert ids("triager_a", "q=财政所&until=2026-03-10") == []
    assert ids("triager_a", f"q=刘德福&round={world.slug_a}") == [world.items_a[0]]
    assert ids("triager_a", "q=刘德福&status=closed") == []
    with world.desk.sessions() as db:
        officer = db.scalar(select(m.StaffUser.id).where(m.StaffUser.username == "triager_a"))
    assert officer is not None
    set_spam(world.desk, Actor(officer, "triager_a", "triager"), world.items_a[0], spam=True)
    assert ids("triager_a", "q=刘德福") == []
    assert ids("triager_a", "q=刘德福&status=spam") == [world.items_a[0]]
    body = world.get("triager_a", "/items?q=王刚").get_json()
    [one] = body["items"]
    assert one["match"] == {"field": "text", "passage": "镇财政所王刚虚报冒领补贴，账目不公开。"}
    assert "match" not in world.get("triager_a", "/items").get_json()["items"][0]


def test_api_paging_with_q_is_complete_and_in_order(world: World) -> None:  # noqa: F811
    made = [ingest(world.desk, make_submission(
        round_id=world.round_a, received_at=at("2026-03-14", 9) + timedelta(minutes=i // 2),
        text=f"第{i}次反映：{NAME}占用耕地建房。")).submission_id for i in range(7)]
    pages, cursor = [], None
    while True:
        body = world.get("triager_a", f"/items?q={NAME}&limit=3"
                         + (f"&cursor={cursor}" if cursor else "")).get_json()
        pages.append([i["id"] for i in body["items"]])
        assert all(NAME in i["match"]["passage"] for i in body["items"])
        if (cursor := body["next"]) is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == sorted(made, key=lambda i: (made.index(i) // 2, i),
                                                   reverse=True)
    assert all_items(world, "triager_b", f"q={NAME}") == []


def test_the_queue_page_searches_with_dates_and_highlights_the_passage(
        app: Flask, desk: Desk) -> None:
    first = ingest(desk, make_submission(
        received_at=datetime(2026, 3, 10, 1, 0, tzinfo=UTC),
        text=f"反映<script>东岭村{NAME}</script>侵占集体土地。")).submission_id
    second = ingest(desk, make_submission(
        received_at=datetime(2026, 3, 12, 1, 0, tzinfo=UTC), channel="hotline",
        identity=Identity(), text=f"来电：{NAME}又在建房。")).submission_id
    client = staff_client(app, desk, "triager1", "triager")
    html = client.get(f"/staff/?q={NAME}").get_data(as_text=True)
    assert f"#{first}" in html and f"#{second}" in html
    assert f"&lt;script&gt;东岭村<mark>{NAME}</mark>&lt;/script&gt;" in html
    assert "<script>东岭村" not in html
    html = client.get(f"/staff/?q={NAME}&since=2026-03-11&until=2026-03-12").get_data(
        as_text=True)
    assert f"#{second}" in html and f"#{first}" not in html
    assert 'value="2026-03-11"' in html and f'value="{NAME}"' in html
    html = client.get(f"/staff/?q={NAME}&channel=web").get_data(as_text=True)
    assert f"#{first}" in html and f"#{second}" not in html
    bad = client.get(f"/staff/?q={NAME}&since=2026-13-01")
    assert bad.status_code == 400
    assert "日期格式不对" in bad.get_data(as_text=True)
    page = client.get(f"/staff/?q={NAME}&since=2026-03-12&until=2026-03-11")
    assert "截止日期不能早于起始日期" in page.get_data(as_text=True)
