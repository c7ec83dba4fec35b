"""The follow-up pages: 超期督办 (an untouched item past its 15 working days across National
Day and its make-up Saturday, a late transfer reminded), the daily digest (page, e-mail once
per team per day, command) with counts and numbers only, and the duty desk's feedback lists
(calls to make, letters to print): marking, a number revealed to a team leader only (audited),
a letter's name and address likewise. Two teams, real app, real database."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select, update

from intake.desk import Desk, open_desk
from intake.digest import DigestWorker, run_digest
from intake.outbox import SEAL_CONTEXT
from intake.pipeline import ingest
from intake.protect import Identity
from intake.staff import create_user
from intake.store import models as m
from intake.workdays import CHINA
from tests.integration.test_staff_api import (  # noqa: F401
    CST,
    TEAM_A,
    TEAM_B,
    World,
    at,
    login,
    world,
)
from tests.support import NAMED_IDENTITY, STAFF_PASSWORD, make_submission

LETTER_WRITER = Identity(name="司马青云", address="青山镇西坡村五组七号")


def api(w: World, who: str, path: str, body: Any = None) -> Any:
    response = w.app.test_client().post(
        f"/api/v1/staff{path}", json=body if body is not None else {},
        headers={"Authorization": f"Bearer {w.tokens[who]}"})
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def at_clock(w: World, moment: datetime) -> None:
    """The app's clock (pages, sessions) stands at `moment`."""
    w.app.extensions["clock"] = lambda: moment


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def section(html: str, element_id: str) -> str:
    """The HTML of the element with this id (to its closing tag's section/table)."""
    start = html.index(f'id="{element_id}"')
    end = html.find("</section>", start)
    return html[start:end if end != -1 else None]


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def audit(w: World, action: str) -> list[m.AuditEvent]:
    with w.desk.sessions() as db:
        return list(db.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action)))


@pytest.fixture
def sept(world: World) -> int:  # noqa: F811
    """Team A's item received on Monday 28 September 2026 and left untouched: its 15 working
    days run over National Day (1-7 October) and the make-up Saturday 10 October to Friday
    23 October."""
    return ingest(world.desk, make_submission(
        round_id=world.round_a, received_at=at("2026-09-28", 10),
        text="东岭村文书把集体土地租金存进个人账户。")).submission_id


# -- 超期督办 ---------------------------------------------------------------------------------


def test_an_untouched_item_is_overdue_after_15_working_days_across_national_day(
        world: World, sept: int) -> None:  # noqa: F811
    link = f'href="/staff/items/{sept}"'
    at_clock(world, at("2026-10-23", 17))
    html = page(login(world, "triager_a"), "/staff/overdue")
    assert link not in html  # due today: not late yet, on any clock
    at_clock(world, at("2026-10-26", 9))
    client = login(world, "triager_a")
    html = page(client, "/staff/overdue")
    triage = section(html, "overdue-triage")
    row = triage[triage.index(link):].split("</tr>")[0]
    assert "2026-10-23" in row and "3 天" in row
    assert "东岭村文书" not in html  # references, never the text
    # the March items are far later: worst first
    assert triage.index(f'/staff/items/{world.items_a[0]}"') < triage.index(link)
    # team B sees none of team A's
    assert link not in page(login(world, "triager_b"), "/staff/overdue")
    # the staff pages link it for the queue's roles
    assert 'href="/staff/overdue"' in page(client, "/staff/")


def test_a_late_transfer_is_listed_with_its_reminders_and_reminded(world: World) -> None:  # noqa: F811
    target = world.items_a[1]
    transfer = api(world, "triager_a", f"/items/{target}/transfers",
                   {"department": "human_resources"})
    with world.desk.sessions() as db:  # dispatched in good time; its 5 working days passed
        db.execute(update(m.Transfer).where(m.Transfer.id == transfer["id"])
                   .values(accept_due=date(2026, 10, 20)))
        db.commit()
    at_clock(world, at("2026-10-26", 9))
    client = login(world, "triager_a")
    html = page(client, "/staff/overdue")
    late = section(html, "overdue-transfer_accept")
    row = late[late.index(f'id="transfer-{transfer["id"]}"'):].split("</tr>")[0]
    assert "青山巡转〔2026〕1号" in row and "人社局" in row and "6 天" in row and "0 次" in row
    assert f'href="/staff/items/{target}"' in row and "督办" in row
    response = client.post(f"/staff/overdue/transfers/{transfer['id']}/remind",
                           data={"csrf_token": form_token(html)})
    assert response.status_code == 302
    html = page(client, "/staff/overdue")
    assert "已督办" in html
    late = section(html, "overdue-transfer_accept")
    assert "1 次" in late[late.index(f'id="transfer-{transfer["id"]}"'):].split("</tr>")[0]
    with world.desk.sessions() as db:
        assert db.get(m.Transfer, transfer["id"]).reminders == 1
        steps = list(db.scalars(select(m.ItemStep).where(m.ItemStep.kind == "reminded")))
        assert [s.submission_id for s in steps] == [target]
    assert len(audit(world, "transfer.remind")) == 1
    # a duty officer sees the list but reminds no one
    duty = login(world, "duty_a")
    html = page(duty, "/staff/overdue")
    assert "青山巡转〔2026〕1号" in html and "督办</button>" not in html
    assert duty.post(f"/staff/overdue/transfers/{transfer['id']}/remind",
                     data={"csrf_token": form_token(html)}).status_code == 403
    # another team's transfer: not found
    other = login(world, "triager_b")
    assert other.post(f"/staff/overdue/transfers/{transfer['id']}/remind",
                      data={"csrf_token": form_token(page(other, "/staff/overdue"))}
                      ).status_code == 404


# -- 日报 -------------------------------------------------------------------------------------


def count(html: str, name: str) -> int:
    found = re.search(rf'id="count-{name}">(\d+)<', html)
    assert found, name
    return int(found.group(1))


def test_the_digest_counts_a_day_with_numbers_only(world: World, sept: int) -> None:  # noqa: F811
    now = datetime.now(CHINA).replace(microsecond=0)
    today = now.date()
    for channel in ("web", "hotline"):
        ingest(world.desk, make_submission(round_id=world.round_a, channel=channel,
                                           received_at=now - timedelta(seconds=1),
                                           text="西坡村主任虚报危房改造户数。"))
    lead_no = api(world, "triager_a", f"/items/{world.items_a[0]}/accept",
                  {"keeper": "triager_a"})["lead_no"]
    transfer = api(world, "triager_a", f"/items/{world.items_a[1]}/transfers",
                   {"department": "housing"})
    api(world, "triager_a", f"/transfers/{transfer['id']}/replies", {"kind": "accepted"})
    api(world, "triager_a", f"/items/{world.items_a[2]}/close",
        {"disposal": "no_action", "reply": "经核查，反映的问题不属实。"})
    at_clock(world, now.astimezone(CHINA))
    client = login(world, "duty_a")
    html = page(client, "/staff/digest")
    assert f"{today.year}年{today.month}月{today.day}日" in html
    # the named report of the world fixture came in today too (through the API)
    assert count(html, "received") == 3 and "网络举报 1" in html and "值班电话 1" in html
    assert count(html, "accepted") == 1 and lead_no in html
    assert count(html, "transferred") == 1 and transfer["transfer_no"] in html
    assert count(html, "reply-accepted") == 1 and count(html, "reply-result") == 0
    assert count(html, "closed") == 1 and "不予处理" in html
    for text in ("西坡村", "低保", "刘德福", NAMED_IDENTITY.name, NAMED_IDENTITY.phone):
        assert text not in html
    # another day, and the clocks: the September item is due 23 October
    html = page(client, "/staff/digest?day=2026-10-21")
    assert f'/staff/items/{sept}"' in section(html, "due-soon")
    html = page(client, "/staff/digest?day=2026-10-26")
    assert f'/staff/items/{sept}"' in section(html, "newly-overdue")
    assert count(html, "received") == 0
    html = page(client, "/staff/digest?day=2026-03-10")
    assert count(html, "received") == 1  # team A's round; team B's item of that day is not
    assert "@media print" not in html and "followup.css" in html
    page(client, "/staff/digest?day=3月10日", 400)
    assert count(page(login(world, "triager_b"), f"/staff/digest?day={today}"),
                 "accepted") == 0


@pytest.fixture
def mailing(world: World) -> Iterator[list[Desk]]:  # noqa: F811
    """Two desks (two processes) with a relay and digest recipients for both teams."""
    settings = dataclasses.replace(
        world.desk.settings, mail_relay_host="127.0.0.1", digest_hour=8,
        digest_recipients={TEAM_A: ("zuzhang@example.cn", "ban@example.cn"),
                           TEAM_B: ("b@example.cn",)})
    desks = [open_desk(settings), open_desk(settings)]
    yield desks
    for d in desks:
        d.close()


def digests(desk: Desk) -> list[tuple[m.OutboxMail, Any]]:
    with desk.sessions() as db:
        rows = list(db.scalars(select(m.OutboxMail).where(m.OutboxMail.kind == "digest")
                               .order_by(m.OutboxMail.id)))
    return [(r, message_from_bytes(desk.keyring.unseal(r.sealed, SEAL_CONTEXT),
                                   policy=policy.default)) for r in rows]


def test_the_digest_mail_goes_once_per_team_per_day_with_no_item_text(
        world: World, mailing: list[Desk]) -> None:  # noqa: F811
    one, two = (DigestWorker(d) for d in mailing)
    assert one.configured and not DigestWorker(world.desk).configured
    assert one.run_once(at("2026-03-11", 7, 59)) == 0  # before digest_hour
    assert one.run_once(at("2026-03-11", 8, 5)) == 2  # the 10th's, one per team
    assert one.run_once(at("2026-03-11", 9)) == 0
    assert two.run_once(at("2026-03-11", 16)) == 0  # another process: already queued
    sent = digests(world.desk)
    assert len(sent) == 2
    by_to = {str(msg["To"]): msg for _, msg in sent}
    a = by_to["zuzhang@example.cn, ban@example.cn"]
    body = a.get_content()
    assert "2026-03-10" in str(a["Subject"]) and "收件 1 件" in body
    assert "低保" not in body and "刘德福" not in body and "东岭村" not in body
    assert a["Auto-Submitted"] == "auto-generated"
    assert "收件 1 件" in by_to["b@example.cn"].get_content()  # team B's 10 March item
    assert all(r.submission_id is None and r.status == "queued" for r, _ in sent)
    # the next day, once more per team, however many processes look at once
    with ThreadPoolExecutor(4) as pool:
        queued = list(pool.map(lambda worker: worker.run_once(at("2026-03-12", 8)),
                               [one, two, one, two]))
    assert sum(queued) == 2
    assert len(digests(world.desk)) == 4


def test_the_digest_command_prints_and_sends_once(world: World,  # noqa: F811
                                                  mailing: list[Desk]) -> None:
    out = io.StringIO()
    assert run_digest(mailing[0].settings, team=TEAM_A, day="2026-03-12", out=out) == 0
    text = out.getvalue()
    assert "受理工作日报 2026-03-12" in text and "收件 2 件" in text and TEAM_B not in text
    assert "马德才" not in text and "周伟" not in text
    out = io.StringIO()
    run_digest(mailing[0].settings, team=TEAM_A, day="2026-03-12", send=True, out=out)
    assert "已放入发件队列" in out.getvalue()
    out = io.StringIO()
    run_digest(mailing[1].settings, team=TEAM_A, day="2026-03-12", send=True, out=out)
    assert "未重复发送" in out.getvalue()
    assert len(digests(world.desk)) == 1
    assert run_digest(mailing[0].settings, team="没有这个组") == 2
    assert run_digest(mailing[0].settings, day="3月12日") == 2


# -- 回访电话 ---------------------------------------------------------------------------------


@pytest.fixture
def leaders(world: World) -> World:  # noqa: F811
    create_user(world.desk, "leader_b", "team_leader", password=STAFF_PASSWORD, teams=[TEAM_B])
    return world


def notice_of(w: World, item_id: int) -> m.Notice:
    with w.desk.sessions() as db:
        found = db.scalar(select(m.Notice).where(m.Notice.submission_id == item_id))
        assert found is not None
        return found


def test_the_call_list_masks_the_number_reveals_it_to_a_leader_and_marks_calls(
        leaders: World) -> None:
    w = leaders
    api(w, "triager_a", f"/items/{w.named}/accept", {"keeper": "triager_a"})
    notice = notice_of(w, w.named)
    assert (notice.delivery, notice.state) == ("callback", "pending")
    duty = login(w, "duty_a")
    assert "回访电话（1）" in page(duty, "/staff/desk/")
    html = page(duty, "/staff/notices/calls")
    row = section(html, "calls")
    assert "青山巡线〔2026〕001号" in row and "受理告知" in row
    assert "139******78" in row and NAMED_IDENTITY.phone not in html
    assert "反映的问题已收到" in row and "如有补充，可凭查询码在网上查询或补充" in row
    assert "显示号码" not in html  # a duty officer is not offered it
    token = form_token(html)
    refused = duty.post(f"/staff/notices/{notice.id}/phone",
                        data={"csrf_token": token, "reason": "电话告知受理"})
    assert refused.status_code == 403
    assert [e.submission_id for e in audit(w, "identity.reveal.refused")] == [w.named]
    assert audit(w, "identity.reveal") == []

    leader = login(w, "leader_a")
    html = page(leader, "/staff/notices/calls")
    assert "显示号码" in html
    short = leader.post(f"/staff/notices/{notice.id}/phone",
                        data={"csrf_token": form_token(html), "reason": "打"})
    assert short.status_code == 400 and NAMED_IDENTITY.phone not in short.get_data(as_text=True)
    shown = leader.post(f"/staff/notices/{notice.id}/phone",
                        data={"csrf_token": form_token(html), "reason": "电话告知受理结果"})
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    assert f'id="phone-{notice.id}">{NAMED_IDENTITY.phone}<' in shown.get_data(as_text=True)
    revealed = audit(w, "identity.reveal")
    assert [(e.submission_id, e.actor_label) for e in revealed] == [(w.named, "leader_a")]
    assert revealed[0].reason == "电话告知受理结果"
    # another team's leader: not found, and not listed
    other = login(w, "leader_b")
    html = page(other, "/staff/notices/calls")
    assert "no-calls" in html
    assert other.post(f"/staff/notices/{notice.id}/phone",
                      data={"csrf_token": form_token(html), "reason": "电话告知受理结果"}
                      ).status_code == 404
    # a triager keeps no duty desk
    page(login(w, "triager_a"), "/staff/notices/calls", 403)

    # no answer: noted, still on the list; then answered: done, signed and audited
    assert duty.post(f"/staff/notices/{notice.id}/called",
                     data={"csrf_token": token, "outcome": "no_answer", "note": "无人接听"}
                     ).status_code == 302
    html = page(duty, "/staff/notices/calls")
    assert "未接通 1 次" in html and notice_of(w, w.named).state == "pending"
    assert duty.post(f"/staff/notices/{notice.id}/called",
                     data={"csrf_token": token, "outcome": "done"}).status_code == 302
    assert "no-calls" in page(duty, "/staff/notices/calls")
    done = notice_of(w, w.named)
    with w.desk.sessions() as db:
        duty_id = db.scalar(select(m.StaffUser.id).where(m.StaffUser.username == "duty_a"))
        steps = [s.detail for s in db.scalars(select(m.ItemStep).where(
            m.ItemStep.submission_id == w.named, m.ItemStep.kind == "notice")
            .order_by(m.ItemStep.id))]
    assert done.state == "done" and done.done_by == duty_id and done.done_at is not None
    assert [s.get("done") for s in steps] == [None, False, True]  # created, no answer, done
    assert [e.submission_id for e in audit(w, "notice.done")] == [w.named]
    assert len(audit(w, "notice.no_answer")) == 1
    again = duty.post(f"/staff/notices/{notice.id}/called",
                      data={"csrf_token": token, "outcome": "done"})
    assert again.status_code == 409
    assert "回访电话（0）" in page(duty, "/staff/desk/")


# -- 待寄告知书 -------------------------------------------------------------------------------


@pytest.fixture
def letter_item(world: World) -> int:  # noqa: F811
    """A named letter writer of team A, with an address, accepted: a letter to post."""
    item_id = ingest(world.desk, make_submission(
        round_id=world.round_a, channel="letter", anonymous=False, identity=LETTER_WRITER,
        received_at=at("2026-03-13", 9), text="镇农经站站长私分土地补偿款。")).submission_id
    api(world, "triager_a", f"/items/{item_id}/accept", {"keeper": "triager_a"})
    return item_id


def test_the_letters_list_and_marking_them_posted(world: World,  # noqa: F811
                                                  letter_item: int) -> None:
    notice = notice_of(world, letter_item)
    assert (notice.delivery, notice.state) == ("letter", "pending")
    duty = login(world, "duty_a")
    assert "待寄告知书（1）" in page(duty, "/staff/desk/")
    html = page(duty, "/staff/notices/letters")
    row = section(html, "letters")
    assert "受理告知" in row and "已留地址" in row
    assert LETTER_WRITER.name not in html and "西坡村" not in html
    assert "下载告知书" not in html  # printing shows names: a team leader's
    token = form_token(html)
    assert duty.post("/staff/notices/letters/print", data={
        "csrf_token": token, "notice": str(notice.id), "what": "pdf"}).status_code == 403
    assert audit(world, "notice.letter") == []
    leader = login(world, "leader_a")
    html = page(leader, "/staff/notices/letters")
    assert "司**" in html  # a leader sees who, masked, before printing
    # nothing chosen: said so
    response = duty.post("/staff/notices/letters/sent", data={"csrf_token": token})
    assert response.status_code == 400 and "请先选择" in response.get_data(as_text=True)
    response = duty.post("/staff/notices/letters/sent",
                         data={"csrf_token": token, "notice": str(notice.id)})
    assert response.status_code == 302
    assert notice_of(world, letter_item).state == "done"
    assert "no-letters" in page(duty, "/staff/notices/letters")
    assert [e.detail["delivery"] for e in audit(world, "notice.done")] == ["letter"]


def test_letters_print_for_a_team_leader_only_audited_and_not_stored(
        world: World, letter_item: int) -> None:  # noqa: F811
    notice = notice_of(world, letter_item)
    leader = login(world, "leader_a")
    token = form_token(page(leader, "/staff/notices/letters"))
    for what, kind in (("pdf", "application/pdf"), ("envelopes", "application/pdf"),
                       ("docx", "application/")):
        response = leader.post("/staff/notices/letters/print", data={
            "csrf_token": token, "notice": str(notice.id), "what": what})
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        assert response.mimetype.startswith(kind)
        assert response.headers["Cache-Control"] == "no-store"
        assert "attachment" in response.headers["Content-Disposition"]
        if what != "docx":
            pdf = PdfReader(io.BytesIO(response.data))
            text = re.sub(r"[\s\x00]+", "", "".join(p.extract_text() for p in pdf.pages))
            assert LETTER_WRITER.name in text and "巡察" not in text if what == "envelopes" \
                else "已予受理" in text
    events = audit(world, "notice.letter")
    assert len(events) == 3 and events[0].detail["count"] == 1
    assert notice_of(world, letter_item).state == "pending"  # printed is not posted
