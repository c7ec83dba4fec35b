"""Two teams, two open rounds, items from every channel in each; then every role over the
staff pages: each team sees its own items only, another team's item, attachment or raw mail is
404 (never 403: that would confirm it exists), the audit page and duplicate links stay within
the team, and the office, the administrator and the auditor read no item at all."""

from __future__ import annotations

import email
import io
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.desk import Desk
from intake.mail import Envelope, take_in
from intake.outbox import SEAL_CONTEXT
from intake.protect import normalise_code
from intake.rounds import load_files
from intake.store import models as m
from tests.support import REPO, csrf_token, staff_client

SECOND_ROUND = REPO / "config" / "round.second.example.yaml"
A_SLUG, B_SLUG = "qingshanzhen-2026-03", "baishi-yunling-2026-2"
A_TEAM, B_TEAM = "县委第一巡察组", "县委第二巡察组"
A_MAILBOX, B_MAILBOX = "xcz1@intake.example.cn", "xcz2@intake.example.cn"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + \
    b"\xff\xd9"
# The same matter reported to both teams: it must never be linked across them.
BOTH = "临川县两个乡镇都有干部在搞村道工程，老板请吃饭送购物卡，工程款层层截留。"
A_TEXT = "东岭村党支部书记刘德福把低保名额给了自己的亲戚，村里的账目三年没有公开。"
# Names a roster member of round B's second unit (云岭乡, inspected_units[1]).
B_TEXT = "云岭乡溪口村党总支书记贺德旺把村集体土地的租金装进了自己腰包，账目从不公开。"
# Titles unique to each item: what the queue shows.
TITLES = {
    "a": {"web": "甲组网页来件", "api": "甲组接口来件", "mail": "甲组邮件来件",
          "hotline": "甲组值班来电"},
    "b": {"web": "乙组网页来件", "api": "乙组接口来件", "mail": "乙组邮件来件",
          "hotline": "乙组值班来电"},
}


@dataclass
class Team:
    slug: str
    round_id: int
    items: dict[str, int] = field(default_factory=dict)  # channel → item id
    attachment: int = 0
    mails: list[int] = field(default_factory=list)  # inbound mail ids (the item's, follow-up)


@dataclass
class World:
    app: Flask
    desk: Desk
    a: Team
    b: Team

    def other(self, team: Team) -> Team:
        return self.b if team is self.a else self.a


def member(app: Flask, desk: Desk, username: str, role: str, teams: list[str]) -> FlaskClient:
    """A signed-in staff member of these teams (password already changed)."""
    return staff_client(app, desk, username, role, teams)


def web_report(client: FlaskClient, slug: str, title: str, body: str) -> None:
    page = client.get(f"/r/{slug}/report").get_data(as_text=True)
    key = re.search(r'name="form_key" value="([^"]+)"', page)
    assert key
    response = client.post(f"/r/{slug}/report", data={
        "csrf_token": csrf_token(client, f"/r/{slug}/report"), "form_key": key.group(1),
        "title": title, "text": body, "password": "report-2026",
        "attachments": (io.BytesIO(JPEG), "现场.jpg")}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "已收到您反映的问题" in response.get_data(as_text=True)


def mail(to: str, subject: str, body: str, sender: str) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid()
    msg.set_content(body)
    return msg.as_bytes()


def related(page: str) -> set[int]:
    """The items the page's 可能重复或相关 list links to."""
    section = re.search(r"<h2>可能重复或相关</h2><ul>(.*?)</ul>", page, re.S)
    return {int(i) for i in re.findall(r'href="/staff/items/(\d+)"', section.group(1))} \
        if section else set()


def newest_item(desk: Desk) -> int:
    with desk.sessions() as session:
        return session.scalar(select(m.Submission.id).order_by(m.Submission.id.desc()).limit(1))


def code_sent_to(desk: Desk, item_id: int) -> str:
    """The query code in the automatic reply queued for an e-mailed item."""
    with desk.sessions() as session:
        row = session.scalars(select(m.OutboxMail).where(m.OutboxMail.submission_id == item_id)
                              ).one()
        raw = desk.keyring.unseal(row.sealed, SEAL_CONTEXT)
    reply = email.message_from_bytes(raw, policy=policy.default)
    found = re.search(r"查询码：([\d ]+)", reply.get_body(("plain",)).get_content())
    assert found
    return normalise_code(found.group(1))


@pytest.fixture
def world(app: Flask, desk: Desk) -> World:
    load_files(desk.sessions, [SECOND_ROUND])
    desk.rounds.refresh(force=True)
    entries = {e.slug: e for e in desk.rounds.open()}
    assert set(entries) == {A_SLUG, B_SLUG}
    w = World(app, desk, Team(A_SLUG, entries[A_SLUG].id), Team(B_SLUG, entries[B_SLUG].id))
    public = app.test_client()
    for key, team, body, mailbox in (("a", w.a, A_TEXT, A_MAILBOX),
                                     ("b", w.b, B_TEXT, B_MAILBOX)):
        web_report(public, team.slug, TITLES[key]["web"], body)
        team.items["web"] = newest_item(desk)
        # The same text again through the API: a duplicate within the team's round.
        response = public.post("/api/v1/reports", json={
            "title": TITLES[key]["api"], "text": body, "password": "report-2026",
            "round": team.slug})
        assert response.status_code == 201, response.get_json()
        team.items["api"] = newest_item(desk)
        sender = f"{key}-reporter@example.com"
        outcome = take_in(desk, mail(mailbox, TITLES[key]["mail"], BOTH, sender),
                          Envelope(mail_from=sender, rcpt_tos=(mailbox,)))
        team.items["mail"] = outcome.submission_id
        code = code_sent_to(desk, outcome.submission_id)
        followup = take_in(desk, mail(mailbox, "补充材料", f"补充：工程是去年十月开工的。\n"
                                      f"> 查询码：{code}", sender),
                           Envelope(mail_from=sender, rcpt_tos=(mailbox,)))
        assert followup.followup and followup.submission_id == outcome.submission_id
        team.mails = [outcome.inbound_id, followup.inbound_id]
        with desk.sessions() as session:
            team.attachment = session.scalar(select(m.Attachment.id).where(
                m.Attachment.submission_id == team.items["web"]))
    # Each team's duty officer logs a call on the desk page; it lands in the officer's round.
    for key, team, team_name in (("a", w.a, A_TEAM), ("b", w.b, B_TEAM)):
        officer = member(app, desk, f"{key}_logger", "duty_officer", [team_name])
        response = officer.post("/staff/desk/log/hotline", data={
            "csrf_token": csrf_token(officer, "/staff/desk/log/hotline"),
            "title": TITLES[key]["hotline"], "text": "来电反映：" + BOTH,
            "received_at": "2026-03-18T09:30"})
        assert response.status_code == 200, response.get_data(as_text=True)
        team.items["hotline"] = newest_item(desk)
    with desk.sessions() as session:
        for team in (w.a, w.b):
            rounds = {session.get_one(m.Submission, i).round_id for i in team.items.values()}
            assert rounds == {team.round_id}, team
    return w


def test_every_channel_files_under_its_round_and_the_classifier_knows_both_units(
        world: World) -> None:
    with world.desk.sessions() as session:
        row = session.get_one(m.Submission, world.b.items["api"])
        assert row.current is not None and row.current.in_scope
        assert row.current.subject_role == "subordinate_head"
        assert [s["name"] for s in row.current.subjects][:1] == ["贺德旺"]
        # Mail to each mailbox went to that round; no link between the two same-matter mails.
        links = session.scalars(select(m.DuplicateLink)).all()
        pairs = {frozenset((link.submission_id, link.other_id)) for link in links}
        assert frozenset((world.a.items["web"], world.a.items["api"])) in pairs
        assert frozenset((world.b.items["web"], world.b.items["api"])) in pairs
        a_ids, b_ids = set(world.a.items.values()), set(world.b.items.values())
        assert all(p <= a_ids or p <= b_ids for p in pairs), pairs


TEAM_ROLES = ("duty_officer", "triager", "team_leader")


@pytest.mark.parametrize("role", TEAM_ROLES)
@pytest.mark.parametrize("side", ["a", "b"])
def test_a_team_member_sees_only_their_teams_items(world: World, role: str, side: str) -> None:
    own: Team = getattr(world, side)
    other = world.other(own)
    other_side = "b" if side == "a" else "a"
    client = member(world.app, world.desk, f"{side}_{role}", role,
                    [A_TEAM if side == "a" else B_TEAM])

    queue = client.get("/staff/")
    assert queue.status_code == 200
    page = queue.get_data(as_text=True)
    for title in TITLES[side].values():
        assert title in page
    for title in TITLES[other_side].values():
        assert title not in page
    assert "贺德旺" not in page if side == "a" else "刘德福" not in page
    # Filters and paging cannot widen it.
    for query in ("?channel=email", "?status=received", "?scope=in", "?needs_review=yes"):
        assert not any(t in client.get("/staff/" + query).get_data(as_text=True)
                       for t in TITLES[other_side].values())

    for channel, item_id in own.items.items():
        response = client.get(f"/staff/items/{item_id}")
        assert response.status_code == 200, channel
    for channel, item_id in other.items.items():
        assert client.get(f"/staff/items/{item_id}").status_code == 404, channel

    assert client.get(f"/staff/attachments/{own.attachment}").status_code == 200
    assert client.get(f"/staff/attachments/{other.attachment}").status_code == 404

    # Acting on another team's item: 404 too, and nothing changes.
    token = csrf_token(client, f"/staff/items/{own.items['web']}")
    target = other.items["web"]
    for path, data in ((f"/staff/items/{target}/decision", {"action": "confirm"}),
                       (f"/staff/items/{target}/reply", {"text": "您好"}),
                       (f"/staff/items/{target}/spam", {"spam": "true"}),
                       (f"/staff/items/{target}/reveal", {"reason": "核实身份以便回访"})):
        status = client.post(path, data={"csrf_token": token, **data}).status_code
        # A role that may not do it at all is refused first, for any item (403 says nothing
        # about whether this one exists).
        allowed = role == "team_leader" or (role == "triager" and not path.endswith("/reveal"))
        assert status == (404 if allowed else 403), (path, status)

    for inbound_id in other.mails:  # the item's mail and the follow-up
        response = client.post(f"/staff/mails/{inbound_id}/raw", data={
            "csrf_token": token, "reason": "核实来信人身份", "item_id": str(own.items["mail"])})
        assert response.status_code == 404, inbound_id
    for inbound_id in own.mails:
        response = client.post(f"/staff/mails/{inbound_id}/raw", data={
            "csrf_token": token, "reason": "核实来信人身份", "item_id": str(own.items["mail"])})
        assert response.status_code == (200 if role == "team_leader" else 403)

    # The duplicate pair on the item page stays within the team.
    for item_id in own.items.values():
        links = related(client.get(f"/staff/items/{item_id}").get_data(as_text=True))
        assert links <= set(own.items.values())
    assert related(client.get(f"/staff/items/{own.items['web']}").get_data(as_text=True)) \
        == {own.items["api"]}

    if role in ("duty_officer", "team_leader"):
        desk_page = client.get("/staff/desk/").get_data(as_text=True)
        assert TITLES[side]["hotline"] in desk_page or "来电反映" in desk_page
        assert TITLES[other_side]["hotline"] not in desk_page

    audit = client.get("/staff/audit/")
    if role != "team_leader":
        assert audit.status_code == 403
        return
    assert audit.status_code == 200
    page = audit.get_data(as_text=True)
    assert f'href="/staff/items/{own.items["web"]}"' in page  # own views are on record
    for item_id in other.items.values():
        assert f'href="/staff/items/{item_id}"' not in page
        searched = client.get(f"/staff/audit/?item={item_id}").get_data(as_text=True)
        assert f'href="/staff/items/{item_id}"' not in searched
    assert f"{other_side}_logger" not in page  # the other team's officer's own events


def test_a_member_of_both_teams_sees_both(world: World) -> None:
    client = member(world.app, world.desk, "both_leader", "team_leader", [A_TEAM, B_TEAM])
    page = client.get("/staff/").get_data(as_text=True)
    for titles in TITLES.values():
        for title in titles.values():
            assert title in page
    for team in (world.a, world.b):
        for item_id in team.items.values():
            assert client.get(f"/staff/items/{item_id}").status_code == 200
        assert client.get(f"/staff/attachments/{team.attachment}").status_code == 200
    audit = client.get("/staff/audit/").get_data(as_text=True)
    assert f'href="/staff/items/{world.a.items["web"]}"' in audit
    assert f'href="/staff/items/{world.b.items["web"]}"' in audit
    # Still no link between the teams' same-matter items, even for someone who sees both.
    for item_id in world.a.items.values():
        links = related(client.get(f"/staff/items/{item_id}").get_data(as_text=True))
        assert not links & set(world.b.items.values())


@pytest.mark.parametrize("role", ["office", "admin", "auditor"])
def test_office_admin_and_auditor_read_no_item(world: World, role: str) -> None:
    client = member(world.app, world.desk, f"x_{role}", role, [])
    # The bare /staff/ sends each role to its own page; the queue itself is refused.
    home = client.get("/staff/")
    assert home.status_code == 302 and "/staff/?" not in home.headers["Location"]
    assert client.get("/staff/?status=received").status_code == 403
    token = csrf_token(client, "/staff/password")
    for team in (world.a, world.b):
        for item_id in team.items.values():
            assert client.get(f"/staff/items/{item_id}").status_code == 403
            assert client.post(f"/staff/items/{item_id}/reveal", data={
                "csrf_token": token, "reason": "核实身份以便回访"}).status_code == 403
        assert client.get(f"/staff/attachments/{team.attachment}").status_code == 403
        for inbound_id in team.mails:
            assert client.post(f"/staff/mails/{inbound_id}/raw", data={
                "csrf_token": token, "reason": "核实来信人身份"}).status_code == 403
    assert client.get("/staff/desk/").status_code == 403
    audit = client.get("/staff/audit/")
    if role == "auditor":  # the auditor reads the whole log, and only the log
        assert audit.status_code == 200
        page = audit.get_data(as_text=True)
        assert "a_logger" in page and "b_logger" in page
        for titles in TITLES.values():
            assert not any(title in page for title in titles.values())
        assert A_TEXT[:10] not in page and B_TEXT[:10] not in page
    else:
        assert audit.status_code == 403


def test_an_officer_of_two_teams_says_which_round_a_call_is_for(world: World) -> None:
    officer = member(world.app, world.desk, "both_officer", "duty_officer", [A_TEAM, B_TEAM])
    form = officer.get("/staff/desk/log/hotline").get_data(as_text=True)
    assert f'<option value="{B_SLUG}"' in form and f'<option value="{A_SLUG}"' in form
    call = {"csrf_token": csrf_token(officer, "/staff/desk/log/hotline"),
            "text": "来电反映：" + B_TEXT, "received_at": "2026-03-18T10:00"}
    refused = officer.post("/staff/desk/log/hotline", data=call)
    assert refused.status_code == 400 and "请选择所属轮次" in refused.get_data(as_text=True)
    assert officer.post("/staff/desk/log/hotline",
                        data={**call, "round": B_SLUG}).status_code == 200
    with world.desk.sessions() as session:
        assert session.get_one(m.Submission, newest_item(world.desk)).round_id == world.b.round_id


def test_asking_for_another_teams_item_is_recorded_for_the_auditor(world: World) -> None:
    prober = member(world.app, world.desk, "a_prober", "triager", [A_TEAM])
    other = next(iter(world.b.items.values()))
    assert prober.get(f"/staff/items/{other}").status_code == 404
    assert prober.get(f"/staff/attachments/{world.b.attachment}").status_code == 404
    with world.desk.sessions() as s:
        denied = list(s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "access.denied")
                                .order_by(m.AuditEvent.id)))
    assert [(e.actor_label, e.detail["what"], e.detail["id"], e.submission_id) for e in denied] == [
        ("a_prober", "item", other, None), ("a_prober", "attachment", world.b.attachment, None)]
    auditor = member(world.app, world.desk, "x_auditor2", "auditor", [])
    page = auditor.get("/staff/audit/?action=access.denied").get_data(as_text=True)
    assert "a_prober" in page and "打开不在本组范围的反映件" in page
