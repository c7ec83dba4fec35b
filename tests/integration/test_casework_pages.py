"""The pages of a case after triage (handlers/web/casework.py): the item page's 办理 panel and
the transfer page, through the staff web login. Each form's success and its refusals (wrong
role 403, other team 404, a second keeper 409 with its message shown and the input kept, a
closed lead), CSRF, and what the page shows: number, keeper, transfers, clocks, the signed
history with its notes. Two teams, real app, real database (the staff API's `world`)."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from intake.staff import create_user
from intake.store import models as m
from tests.integration.test_staff_api import TEAM_A, World, login, world  # noqa: F401
from tests.support import STAFF_PASSWORD, csrf_token


def web(w: World, username: str) -> FlaskClient:
    """A browser-like client signed in on the staff pages as one of the world's accounts."""
    return login(w, username)


def page_text(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def send(client: FlaskClient, path: str, data: dict[str, str] | None = None,
         token_from: str = "") -> object:
    """POST a form with the CSRF token of the page the form is on."""
    token = csrf_token(client, token_from or "/staff/")
    return client.post(path, data={"csrf_token": token, **(data or {})})


def panel(client: FlaskClient, item_id: int) -> str:
    body = page_text(client.get(f"/staff/items/{item_id}"))
    start = body.index('id="casework"')
    return body[start:body.index("</section>", start)]


@pytest.fixture
def team(world: World) -> World:  # noqa: F811
    create_user(world.desk, "triager_a2", "triager", password=STAFF_PASSWORD, teams=[TEAM_A])
    return world


def test_accepting_on_the_item_page_makes_a_numbered_lead(team: World) -> None:
    client = web(team, "triager_a")
    target = team.items_a[0]
    shown = panel(client, target)
    assert "受理为线索" in shown and "转办" in shown and "登记为重复件" in shown
    assert "更换承办人" not in shown  # the team leader's
    # the keeper select: the team's triagers and leaders, the viewer first chosen
    keepers = re.findall(r'<option value="([^"]+)"[^>]*>[^<]*· (?:研判员|组长)', shown)
    assert set(keepers) == {"triager_a", "triager_a2", "leader_a"}
    assert re.search(r'<option value="triager_a" selected', shown)

    response = send(client, f"/staff/items/{target}/accept",
                    {"keeper": "triager_a2", "note": "线索具体，可查"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/staff/items/{target}#casework")
    body = page_text(client.get(f"/staff/items/{target}"))
    assert "已受理为线索 青山巡线〔2026〕001号，承办人 triager_a2。" in body
    shown = panel(client, target)
    assert "青山巡线〔2026〕001号" in shown and 'id="lead-keeper">triager_a2' in shown
    assert "已受理" in shown
    # the signed history, with who, the step and the staff note (the page may show notes)
    steps = shown[shown.index('id="case-steps"'):]
    assert "triager_a" in steps and "受理为线索 青山巡线〔2026〕001号，承办人 triager_a2" in steps
    assert "说明：线索具体，可查" in steps
    assert "受理为线索 <kbd" not in shown  # no second acceptance offered
    with team.desk.sessions() as db:
        lead = db.scalar(select(m.Lead).where(m.Lead.submission_id == target))
        assert lead is not None and lead.number == "青山巡线〔2026〕001号"


def test_a_second_keeper_is_refused_with_the_message_and_the_input_kept(team: World) -> None:
    target = team.items_a[0]
    first = web(team, "triager_a")
    second = web(team, "leader_a")
    token = csrf_token(second, f"/staff/items/{target}")  # the leader's page, still offering it
    assert send(first, f"/staff/items/{target}/accept", {"keeper": "triager_a"}
                ).status_code == 302
    response = second.post(f"/staff/items/{target}/accept",
                           data={"csrf_token": token, "keeper": "leader_a",
                                 "note": "我来办"})
    assert response.status_code == 409
    body = page_text(response)
    assert "此件已是线索 青山巡线〔2026〕001号，承办人 triager_a" in body
    assert 'role="alert"' in body
    with team.desk.sessions() as db:
        assert db.scalar(select(m.Lead.keeper_id).join(
            m.StaffUser, m.StaffUser.id == m.Lead.keeper_id)) is not None
        keeper = db.scalar(select(m.StaffUser.username).join(
            m.Lead, m.Lead.keeper_id == m.StaffUser.id))
    assert keeper == "triager_a"
    # a bad keeper: 400, the form open again with what was typed
    other = team.items_a[1]
    response = send(second, f"/staff/items/{other}/accept",
                    {"keeper": "triager_b", "note": "保留这段说明"})
    assert response.status_code == 400
    body = page_text(response)
    assert "本组没有可用账号 triager_b" in body
    assert re.search(r'id="cw-accept" open', body)
    assert 'value="保留这段说明"' in body


def test_wrong_role_other_team_and_csrf(team: World) -> None:
    target = team.items_a[0]
    duty = web(team, "duty_a")
    shown = panel(duty, target)  # the duty officer reads the case, takes no step
    assert "受理为线索 <kbd" not in shown and 'id="cw-accept"' not in shown
    assert send(duty, f"/staff/items/{target}/accept", {"keeper": "triager_a"}
                ).status_code == 403
    assert send(duty, f"/staff/items/{target}/close", {"disposal": "no_action"}
                ).status_code == 403
    other = web(team, "triager_b")
    for path in (f"/staff/items/{target}/accept", f"/staff/items/{target}/transfers",
                 f"/staff/items/{target}/close", f"/staff/items/{target}/repeat"):
        response = send(other, path, {"keeper": "triager_b", "department": "housing",
                                      "disposal": "no_action", "of": "1"})
        assert response.status_code == 404, path
    mine = web(team, "triager_a")
    response = mine.post(f"/staff/items/{target}/accept", data={"keeper": "triager_a"})
    assert response.status_code == 400  # no CSRF token
    # the pages sit behind the staff login, like the item page
    response = team.app.test_client().get("/staff/transfers/1")
    assert response.status_code == 302 and "/staff/login?next=" in response.headers["Location"]
    with team.desk.sessions() as db:
        assert db.scalar(select(m.Lead.id)) is None
        denied = db.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "access.denied"))
        assert any(e.actor_label == "triager_b" for e in denied)


def test_transfer_from_the_item_page_lands_on_the_transfer_page(team: World) -> None:
    client = web(team, "triager_a")
    target = team.items_a[1]
    response = send(client, f"/staff/items/{target}/transfers",
                    {"department": "human_resources", "dispatch": "post",
                     "note": "请依法处理并反馈"})
    assert response.status_code == 302
    with team.desk.sessions() as db:
        found = db.scalar(select(m.Transfer))
        assert found is not None
        tid = found.id
    assert response.headers["Location"].endswith(f"/staff/transfers/{tid}")
    body = page_text(client.get(f"/staff/transfers/{tid}"))
    assert "已转办，请下载转办函送达受理单位。" in body
    assert "青山巡转〔2026〕1号" in body and "人社局" in body and "邮寄" in body
    assert "请依法处理并反馈" in body and "已转出，待受理" in body
    assert "尚未配置" in body  # no county file of receiving bodies: the letter says so
    assert f'href="/staff/transfers/{tid}/letter.docx"' in body
    assert f'href="/staff/transfers/{tid}/letter.pdf"' in body
    letter = client.get(f"/staff/transfers/{tid}/letter.docx")
    assert letter.status_code == 200 and letter.data.startswith(b"PK")
    assert "no-store" in letter.headers["Cache-Control"]
    assert web(team, "triager_b").get(f"/staff/transfers/{tid}/letter.docx").status_code == 404
    assert client.get(f"/staff/transfers/{tid}/letter.odt").status_code == 404
    assert "镇财政所王刚虚报冒领补贴" in body  # the matter as sent (masked text)
    assert "受理期限" in body and "计时中" in body
    shown = panel(client, target)
    assert "青山巡转〔2026〕1号" in shown and f"/staff/transfers/{tid}" in shown
    assert "已转办" in shown

    # the same body again: 409, shown on the item page with the form kept
    response = send(client, f"/staff/items/{target}/transfers",
                    {"department": "human_resources", "note": "再转一次"})
    assert response.status_code == 409
    body = page_text(response)
    assert "此件已转办该单位" in body and "再转一次" in body
    response = send(client, f"/staff/items/{target}/transfers", {"department": "accept"})
    assert response.status_code == 400
    # another team's transfer page: 404; the duty officer reads it, records nothing
    assert web(team, "triager_b").get(f"/staff/transfers/{tid}").status_code == 404
    duty = web(team, "duty_a")
    body = page_text(duty.get(f"/staff/transfers/{tid}"))
    assert "青山巡转〔2026〕1号" in body and 'id="reply-form"' not in body
    assert send(duty, f"/staff/transfers/{tid}/replies", {"kind": "accepted"}
                ).status_code == 403


def test_replies_reminders_and_reopening_on_the_transfer_page(team: World) -> None:
    client = web(team, "triager_a")
    target = team.items_a[1]
    send(client, f"/staff/items/{target}/transfers", {"department": "housing"})
    with team.desk.sessions() as db:
        tid = db.scalar(select(m.Transfer.id))
    page = f"/staff/transfers/{tid}"
    body = page_text(client.get(page))
    assert 'name="kind" value="accepted" checked' in body  # the default while waiting
    assert "重新交办" not in body

    response = send(client, f"{page}/replies", {"kind": "result", "text": ""}, page)
    assert response.status_code == 400 and "请填写" in page_text(response)
    response = send(client, f"{page}/replies", {"kind": "accepted", "at": "2099-01-01T10:00"},
                    page)
    assert response.status_code == 400 and "答复时间不能晚于现在" in page_text(response)
    assert 'value="2099-01-01T10:00"' in page_text(response)
    response = send(client, f"{page}/replies", {"kind": "accepted", "text": "已收到，正在办理"},
                    page)
    assert response.status_code == 302
    body = page_text(client.get(page))
    assert "已登记答复：受理。" in body and "已受理，待反馈结果" in body
    assert "已按期" in body  # the acceptance clock met
    assert "已收到，正在办理" in body and "登记人 triager_a" in body
    response = send(client, f"{page}/replies", {"kind": "accepted"}, page)
    assert response.status_code == 409

    assert send(client, f"{page}/remind", {"note": "电话催办"}, page).status_code == 302
    body = page_text(client.get(page))
    assert 'id="reminders">1 次' in body and "说明：电话催办" in body

    assert send(client, f"{page}/replies", {"kind": "result", "text": "已责令整改"},
                page).status_code == 302
    body = page_text(client.get(page))
    assert "已反馈结果" in body and "重新交办" in body and "记录督办" not in body
    assert send(client, f"{page}/remind", {}, page).status_code == 409
    # close on the result: offered now
    shown = panel(client, target)
    assert 'value="transferred_done"' in shown
    response = send(client, f"/staff/items/{target}/close",
                    {"disposal": "transferred_done", "reply": "有关部门已责令整改"})
    assert response.status_code == 302
    assert send(client, f"{page}/reopen", {"reason": ""}, page).status_code == 400
    assert send(client, f"{page}/reopen", {"reason": "举报人称未整改"}, page).status_code == 302
    with team.desk.sessions() as db:
        row = db.get_one(m.Submission, target)
        assert row.status == "transferred" and row.disposal is None


def test_repeat_extend_close_and_the_keeper_rules(team: World) -> None:
    first, later = team.items_a[1], team.items_a[3]
    client = web(team, "triager_a")
    response = send(client, f"/staff/items/{first}/repeat", {"of_typed": f"#{later}"})
    assert response.status_code == 400 and "只能登记为更早收到的件的重复件" in page_text(response)
    response = send(client, f"/staff/items/{later}/repeat", {"of_typed": f"#{first}"})
    assert response.status_code == 302
    shown = panel(client, later)
    assert f"本件是 <a href=\"/staff/items/{first}\">#{first}</a> 的重复件" in shown
    assert "撤销重复件" in shown and 'id="cw-accept"' not in shown
    assert f"#{later}" in panel(client, first)  # its repeats listed on the first
    assert send(client, f"/staff/items/{later}/repeat/undo").status_code == 302
    assert 'id="cw-accept"' in panel(client, later)

    lead = team.items_a[0]
    send(client, f"/staff/items/{lead}/accept", {"keeper": "triager_a"})
    # lead disposals offered for a lead only, transferred_done only with a result
    shown = panel(client, lead)
    assert 'value="talk_inquiry"' in shown and 'value="transferred_done"' not in shown
    assert 'value="talk_inquiry"' not in panel(client, team.items_a[2])
    # another triager is not its keeper: no close or extend offered, and refused anyway
    other = web(team, "triager_a2")
    shown = panel(other, lead)
    assert 'id="cw-close"' not in shown and "由承办人 triager_a 办理" in shown
    response = send(other, f"/staff/items/{lead}/close", {"disposal": "talk_inquiry"})
    assert response.status_code == 403 and "您不是它的承办人" in page_text(response)

    assert send(client, f"/staff/items/{lead}/extend", {"reason": ""}).status_code == 400
    response = send(client, f"/staff/items/{lead}/extend", {"reason": "需要调取账目"})
    assert response.status_code == 302
    shown = panel(client, lead)
    assert "已延长 30 天" in shown and 'id="cw-extend"' not in shown
    assert "说明：需要调取账目" in shown

    # the team leader changes the keeper; a triager may not
    assert send(client, f"/staff/items/{lead}/keeper",
                {"keeper": "triager_a2", "reason": "分工"}).status_code == 403
    leader = web(team, "leader_a")
    assert 'id="cw-keeper"' in panel(leader, lead)
    response = send(leader, f"/staff/items/{lead}/keeper",
                    {"keeper": "triager_a2", "reason": "分工调整"})
    assert response.status_code == 302
    assert "承办人由 triager_a 改为 triager_a2" in panel(leader, lead)

    response = send(other, f"/staff/items/{lead}/close",
                    {"disposal": "talk_inquiry", "note": "已谈话", "reply": "已约谈"})
    assert response.status_code == 302
    shown = panel(other, lead)
    assert "已办结" in shown and "谈话函询" in shown and 'id="cw-close"' not in shown
    # a closed lead takes no further step
    response = send(leader, f"/staff/items/{lead}/transfers", {"department": "housing"})
    assert response.status_code == 409 and "此件已办结" in page_text(response)
    response = send(leader, f"/staff/items/{lead}/keeper",
                    {"keeper": "triager_a", "reason": "x"})
    assert response.status_code == 409


def test_the_queue_shows_numbers_keepers_transfers_and_filters_mine(team: World) -> None:
    client = web(team, "triager_a")
    lead, moved = team.items_a[0], team.items_a[1]
    send(client, f"/staff/items/{lead}/accept", {"keeper": "triager_a"})
    send(client, f"/staff/items/{moved}/transfers", {"department": "housing"})
    body = page_text(client.get("/staff/"))
    assert "青山巡线〔2026〕001号" in body and "承办人 triager_a" in body
    assert "转办 1</span>" in body
    with team.desk.sessions() as db:  # its acceptance is late
        db.execute(update(m.Transfer).values(accept_due=date(2026, 1, 5)))
        db.commit()
    assert "转办 1 · 超期" in page_text(client.get("/staff/"))
    mine = page_text(client.get("/staff/?mine=1"))
    assert f'href="/staff/items/{lead}"' in mine
    assert f'href="/staff/items/{moved}"' not in mine
    assert 'name="mine" value="1" checked' in mine
    assert "我承办的" not in page_text(web(team, "duty_a").get("/staff/"))
