"""The duty desk's calls and visits, the call-centre endpoint's tokens, and appointments."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.test import TestResponse

from intake import appointments, duty, rounds
from intake.desk import Desk
from intake.pipeline import check_status
from intake.protect import Identity
from intake.staff import create_user
from intake.store import models as m
from intake.store.models import utcnow
from intake.submission import InvalidSubmissionError
from intake.triage import Actor, reveal_identity
from tests.support import csrf_token, staff_client
from tests.two_teams import TEAM_A, TEAM_B, add_round, first_round, team_client

CST = timezone(timedelta(hours=8))
CALL_TEXT = "我反映东岭村党支部书记刘德福把危房改造补助发给了自己的亲戚，村民都有意见。"


def a_call(**overrides: object) -> duty.DeskLog:
    values: dict[str, object] = {
        "channel": "hotline",
        "received_at": datetime(2026, 3, 5, 9, 30, tzinfo=CST),
        "text": CALL_TEXT,
    }
    values.update(overrides)
    return duty.DeskLog(**values)  # type: ignore[arg-type]


# --- Calls and visits -----------------------------------------------------------------------


def test_a_logged_call_is_an_item_with_a_code_the_caller_can_use(desk: Desk) -> None:
    receipt = duty.log_entry(desk, a_call(identity=Identity(phone="13800001111")), staff_id=None)
    assert re.fullmatch(r"\d{8}", receipt.password)
    assert receipt.flags == ()
    status = check_status(desk, receipt.code, receipt.password)
    assert status.submission_id == receipt.submission_id
    with desk.sessions() as db:
        row = db.get_one(m.Submission, receipt.submission_id)
        assert row.channel == "hotline" and row.anonymous
        assert b"13800001111" not in row.identity_sealed  # the number is sealed as identity
        entry = db.get_one(m.DeskEntry, receipt.submission_id)
        assert entry.flags == []


def test_calls_outside_hours_or_after_close_are_flagged_never_refused(desk: Desk) -> None:
    evening = duty.log_entry(desk, a_call(received_at=datetime(2026, 3, 5, 20, 0, tzinfo=CST)))
    holiday = duty.log_entry(desk, a_call(received_at=datetime(2026, 4, 6, 10, 0, tzinfo=CST)))
    late = duty.log_entry(desk, a_call(received_at=datetime(2026, 4, 13, 9, 0, tzinfo=CST)))
    assert evening.flags == ("outside_hours",)
    assert holiday.flags == ("non_working_day",)
    assert late.flags == ("after_close",) and late.late
    with desk.sessions() as db:
        assert db.get_one(m.Submission, late.submission_id).needs_review


def test_a_visit_at_night_is_not_flagged_for_hotline_hours(desk: Desk) -> None:
    visit = duty.log_entry(desk, a_call(channel="visit",
                                        received_at=datetime(2026, 3, 7, 19, 0, tzinfo=CST)))
    assert visit.flags == ()


@pytest.mark.parametrize(("entry", "field"), [
    (a_call(text="  "), "text"),
    (a_call(anonymous=False), "name"),
    (a_call(received_at=utcnow() + timedelta(hours=2)), "received_at"),
    (a_call(channel="email"), "channel"),
    (a_call(received_at=datetime(1, 1, 1, tzinfo=CST)), "received_at"),
])
def test_bad_logs_name_the_field_and_store_nothing(desk: Desk, entry: duty.DeskLog,
                                                   field: str) -> None:
    with pytest.raises(InvalidSubmissionError) as caught:
        duty.log_entry(desk, entry)
    assert caught.value.field == field
    with desk.sessions() as db:
        assert db.scalar(select(m.Submission.id)) is None


def test_call_log_page_records_the_officer_and_shows_code_and_password(
        app: Flask, desk: Desk) -> None:
    officer = staff_client(app, desk, "zhiban", "duty_officer")
    page = officer.get("/staff/desk/log/hotline").get_data(as_text=True)
    assert 'type="datetime-local"' in page and "autofocus" in page
    token = csrf_token(officer, "/staff/desk/log/hotline")
    response = officer.post("/staff/desk/log/hotline", data={
        "csrf_token": token, "text": CALL_TEXT, "received_at": "2026-03-05T21:10",
        "anonymous": "false", "name": "张某", "phone": "13900002222"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    code = re.search(r'id="query-code">([\d ]+)<', html).group(1).replace(" ", "")
    password = re.search(r'id="query-password">(\d+)<', html).group(1)
    assert "非值班时段来电" in html
    status = check_status(desk, code, password)
    with desk.sessions() as db:
        entry = db.get_one(m.DeskEntry, status.submission_id)
        officer_id = db.scalar(select(m.StaffUser.id).where(m.StaffUser.username == "zhiban"))
        assert entry.recorded_by == officer_id and entry.flags == ["outside_hours"]
        row = db.get_one(m.Submission, status.submission_id)
        assert not row.anonymous
    item = officer.get(f"/staff/items/{status.submission_id}").get_data(as_text=True)
    assert 'id="desk-entry"' in item and "非值班时段来电" in item
    revealed = reveal_identity(desk, _leader(desk), status.submission_id, "核实来电人身份以便回访")
    assert revealed.name == "张某" and revealed.phone == "13900002222"


def _leader(desk: Desk) -> Actor:
    user, _ = create_user(desk, "zuzhang", "team_leader", password="leader-password-1")
    return Actor(user.id, user.username, user.role)


def test_a_bad_call_log_keeps_what_the_officer_typed(app: Flask, desk: Desk) -> None:
    officer = staff_client(app, desk, "zhiban", "duty_officer")
    token = csrf_token(officer, "/staff/desk/log/hotline")
    response = officer.post("/staff/desk/log/hotline", data={
        "csrf_token": token, "text": CALL_TEXT, "received_at": "昨天上午"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "时间格式不对" in html and CALL_TEXT in html


def test_triagers_cannot_use_the_desk(app: Flask, desk: Desk) -> None:
    triager = staff_client(app, desk, "yanpan", "triager")
    assert triager.get("/staff/desk/log/hotline").status_code == 403


# --- The call-centre endpoint ---------------------------------------------------------------


def push(client, token: str | None, **body: object):  # type: ignore[no-untyped-def]
    payload = {"call_id": "c-1", "started_at": "2026-03-05T10:15:00+08:00", "text": CALL_TEXT,
               "caller_number": "13700003333"}
    payload.update(body)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post("/api/v1/desk/calls", json=payload, headers=headers)


def test_a_device_pushes_a_call_once(app: Flask, desk: Desk) -> None:
    token = duty.create_device(desk, "县12345呼叫中心", actor_id=None, actor_label="test")
    client = app.test_client()
    first = push(client, token)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert set(body) == {"id", "code", "password", "received_at", "late", "flags"}
    assert check_status(desk, body["code"], body["password"]).submission_id == body["id"]
    again = push(client, token)
    assert again.status_code == 409
    assert again.get_json()["id"] == body["id"] and "code" not in again.get_json()
    with desk.sessions() as db:
        entry = db.get_one(m.DeskEntry, body["id"])
        assert entry.device_id is not None and entry.recorded_by is None
        assert db.get_one(m.Device, entry.device_id).last_used_at is not None


@pytest.mark.parametrize("token", [None, "", "xczdev_not-a-real-token", "Basic abc"])
def test_the_endpoint_refuses_missing_or_wrong_tokens(app: Flask, desk: Desk,
                                                      token: str | None) -> None:
    duty.create_device(desk, "呼叫中心", actor_id=None, actor_label="test")
    response = push(app.test_client(), token)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] == "unauthorized"
    with desk.sessions() as db:
        assert db.scalar(select(m.Submission.id)) is None


def test_a_revoked_token_stops_working(app: Flask, desk: Desk) -> None:
    token = duty.create_device(desk, "呼叫中心", actor_id=None, actor_label="test")
    device_id = duty.list_devices(desk)[0].id
    duty.revoke_device(desk, device_id, actor_id=None, actor_label="test")
    assert push(app.test_client(), token).status_code == 401
    with desk.sessions() as db:
        actions = list(db.scalars(select(m.AuditEvent.action)))
        assert "device_create" in actions and "device_revoke" in actions


def test_only_a_digest_of_the_token_is_stored(desk: Desk) -> None:
    token = duty.create_device(desk, "呼叫中心", actor_id=None, actor_label="test")
    with desk.sessions() as db:
        device = db.scalars(select(m.Device)).one()
        assert token not in device.token_lookup and device.token_lookup == duty.token_lookup(token)


def test_wrong_tokens_are_rate_limited(app: Flask, desk: Desk) -> None:
    client = app.test_client()
    codes = [push(client, "xczdev_guess").status_code for _ in range(12)]
    assert codes[:10] == [401] * 10 and codes[-1] == 429


@pytest.mark.parametrize(("body", "field"), [
    ({"started_at": "2026-03-05 10:15"}, "started_at"),
    ({"started_at": None}, "started_at"),
    ({"started_at": "0001-01-01T00:00:00+08:00"}, "started_at"),
    ({"text": ""}, "text"),
    ({"text": 42}, "text"),
    ({"anonymous": False}, "caller_name"),
    ({"call_id": "x" * 101}, "call_id"),
])
def test_bad_pushes_get_400_naming_the_field(app: Flask, desk: Desk, body: dict[str, object],
                                             field: str) -> None:
    token = duty.create_device(desk, "呼叫中心", actor_id=None, actor_label="test")
    response = push(app.test_client(), token, **body)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_admin_creates_a_token_on_the_devices_page(app: Flask, desk: Desk) -> None:
    admin = staff_client(app, desk, "guanli", "admin")
    token = csrf_token(admin, "/staff/desk/devices")
    html = admin.post("/staff/desk/devices", data={"csrf_token": token, "name": "呼叫中心"}
                      ).get_data(as_text=True)
    device_token = re.search(r'id="new-token">新令牌：<code>([^<]+)</code>', html).group(1)
    assert push(app.test_client(), device_token).status_code == 201
    assert device_token not in admin.get("/staff/desk/devices").get_data(as_text=True)
    officer = staff_client(app, desk, "zhiban", "duty_officer")
    assert officer.get("/staff/desk/devices").status_code == 403


# --- Appointments ---------------------------------------------------------------------------


def future_slot(desk: Desk, hours: int = 24, place: str = "信访接待室") -> int:
    start = (utcnow() + timedelta(hours=hours)).replace(microsecond=0)
    return appointments.create_slot(desk, start, start + timedelta(minutes=30), place,
                                    staff_id=None)


def ask(desk: Desk, slot_id: int) -> tuple[int, str]:
    receipt = appointments.request_appointment(desk, appointments.AppointmentRequest(
        slot_id=slot_id, text="想当面反映村里土地流转的问题", password="appt-pass"))
    with desk.sessions() as db:
        appt_id = db.scalar(select(m.Appointment.id).where(
            m.Appointment.submission_id == receipt.submission_id))
    return appt_id, receipt.code


def test_a_slot_is_booked_once_and_the_requester_sees_it(desk: Desk) -> None:
    slot = future_slot(desk)
    first, code = ask(desk, slot)
    second, _ = ask(desk, slot)  # two people may ask for one slot; only one is confirmed
    appointments.confirm(desk, first, staff_id=_officer(desk), staff_label="zhiban")
    with pytest.raises(appointments.SlotTakenError):
        appointments.confirm(desk, second, staff_id=_officer(desk), staff_label="zhiban")
    assert slot not in {s.id for s in appointments.open_slots(desk)}
    with pytest.raises(appointments.SlotTakenError):
        ask(desk, slot)
    status = check_status(desk, code, "appt-pass")
    assert any("面谈时间已确认" in msg.text for msg in status.messages)


def test_moving_and_declining(desk: Desk) -> None:
    slot_a, slot_b = future_slot(desk, 24), future_slot(desk, 48)
    first, _ = ask(desk, slot_a)
    second, code = ask(desk, slot_a)
    officer = _officer(desk)
    appointments.confirm(desk, first, staff_id=officer, staff_label="zhiban")
    appointments.move(desk, second, slot_b, staff_id=officer, staff_label="zhiban")
    with pytest.raises(InvalidSubmissionError):
        appointments.decline(desk, first, staff_id=officer, staff_label="zhiban")  # no reason
    appointments.decline(desk, first, staff_id=officer, staff_label="zhiban",
                         note="当天组长外出，请改约其他时段或来电。")
    ask(desk, slot_a)  # freed by the decline: bookable again
    with desk.sessions() as db:
        moved = db.get_one(m.Appointment, second)
        assert (moved.status, moved.slot_id, moved.booked_slot_id) == ("confirmed", slot_b, slot_b)
        declined = db.get_one(m.Appointment, first)
        assert declined.booked_slot_id is None and declined.status == "declined"
    messages = check_status(desk, code, "appt-pass").messages
    assert any("面谈时间已确认" in msg.text for msg in messages)


def test_the_database_refuses_a_double_booking(desk: Desk) -> None:
    slot = future_slot(desk)
    first, _ = ask(desk, slot)
    second, _ = ask(desk, slot)
    appointments.confirm(desk, first, staff_id=_officer(desk), staff_label="zhiban")
    with desk.sessions() as db, pytest.raises(IntegrityError):
        appt = db.get_one(m.Appointment, second)
        appt.status, appt.booked_slot_id = "confirmed", slot
        db.commit()


def test_overlapping_slots_in_one_place_are_refused(desk: Desk) -> None:
    future_slot(desk, 24)
    with pytest.raises(InvalidSubmissionError):
        future_slot(desk, 24)
    future_slot(desk, 24, place="东岭村委会")  # another room at the same time is fine


def test_past_or_withdrawn_slots_cannot_be_requested(desk: Desk) -> None:
    past = future_slot(desk, hours=-2)
    withdrawn = future_slot(desk, hours=30)
    appointments.withdraw_slot(desk, withdrawn)
    for slot in (past, withdrawn):
        with pytest.raises(appointments.SlotTakenError):
            ask(desk, slot)


def test_public_appointment_page_end_to_end(app: Flask, desk: Desk) -> None:
    client = app.test_client()
    assert 'id="no-slots"' in client.get("/appointment").get_data(as_text=True)
    slot = future_slot(desk)
    token = csrf_token(client, "/appointment")
    response = client.post("/appointment", data={
        "csrf_token": token, "slot": str(slot), "text": "想反映征地补偿的问题",
        "password": "my-appt-pass", "anonymous": "false", "reporter_name": "李某",
        "reporter_phone": "13600004444"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "已收到您的预约申请" in html
    code = re.search(r'id="query-code">([\d ]+)<', html).group(1).replace(" ", "")
    officer = staff_client(app, desk, "zhiban", "duty_officer")
    listing = officer.get("/staff/desk/appointments").get_data(as_text=True)
    appt_id = re.search(r'/staff/desk/appointments/(\d+)', listing).group(1)
    token = csrf_token(officer, "/staff/desk/appointments")
    officer.post(f"/staff/desk/appointments/{appt_id}", data={
        "csrf_token": token, "action": "confirm", "note": "请带上相关材料。"})
    token = csrf_token(client, "/status")
    client.post("/status", data={"csrf_token": token, "code": code, "password": "my-appt-pass"})
    case = client.get("/status/case").get_data(as_text=True)
    assert "已确认，请按时到达" in case and "请带上相关材料" in case


def test_public_appointment_form_errors_keep_the_text(app: Flask, desk: Desk) -> None:
    client = app.test_client()
    future_slot(desk)
    token = csrf_token(client, "/appointment")
    response = client.post("/appointment", data={
        "csrf_token": token, "text": "想反映征地补偿的问题", "password": "my-appt-pass"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "请选择一个时段" in html and "征地补偿" in html


def test_officer_publishes_a_morning_of_slots(app: Flask, desk: Desk) -> None:
    officer = staff_client(app, desk, "zhiban", "duty_officer")
    start = (utcnow() + timedelta(days=2)).astimezone(CST).strftime("%Y-%m-%dT09:00")
    token = csrf_token(officer, "/staff/desk/appointments")
    officer.post("/staff/desk/slots", data={"csrf_token": token, "starts_at": start,
                                            "minutes": "30", "count": "4", "place": "接待室"})
    offered = appointments.open_slots(desk)
    assert len(offered) == 4
    assert offered[1].starts_at - offered[0].starts_at == timedelta(minutes=30)


def _officer(desk: Desk) -> int:
    with desk.sessions() as db:
        existing = db.scalar(select(m.StaffUser.id).where(m.StaffUser.username == "zhiban"))
    if existing is not None:
        return existing
    return create_user(desk, "zhiban", "duty_officer", password="officer-password-1")[0].id


def test_a_callers_number_typed_into_the_log_is_hidden_in_the_text(desk: Desk) -> None:
    receipt = duty.log_entry(desk, a_call(
        text=CALL_TEXT + "来电人电话 138-0000-1111，请回电。",
        identity=Identity(phone="13800001111")))
    with desk.sessions() as db:
        text = db.get_one(m.Submission, receipt.submission_id).text
    assert "1111" not in text and "［电话已隐去］" in text


def test_ids_too_large_for_the_database_are_not_found(app: Flask, desk: Desk) -> None:
    officer = staff_client(app, desk, "zhiban", "duty_officer")
    huge = "9" * 20
    for path in (f"/staff/items/{huge}", f"/staff/letters/batches/{huge}",
                 f"/staff/letters/pages/{huge}/image"):
        assert officer.get(path).status_code == 404, path
    token = csrf_token(officer, "/staff/desk/appointments")
    r = officer.post(f"/staff/desk/appointments/{huge}",
                     data={"csrf_token": token, "action": "confirm"})
    assert r.status_code == 404


def test_honeypot_requests_take_no_officers_time(desk: Desk) -> None:
    slot = future_slot(desk)
    appointments.request_appointment(desk, appointments.AppointmentRequest(
        slot_id=slot, text="广告", password="appt-pass", suspected_bot=True))
    assert appointments.requests(desk) == []
    with desk.sessions() as db:
        assert db.scalars(select(m.Submission.status)).one() == "spam"


def test_slot_series_limits_are_checked(app: Flask, desk: Desk) -> None:
    officer = staff_client(app, desk, "zhiban", "duty_officer")
    start = (utcnow() + timedelta(days=2)).astimezone(CST).strftime("%Y-%m-%dT09:00")
    token = csrf_token(officer, "/staff/desk/appointments")
    r = officer.post("/staff/desk/slots", follow_redirects=True, data={
        "csrf_token": token, "starts_at": start, "minutes": "100000", "count": "1"})
    assert "10 到 480 分钟" in r.get_data(as_text=True)
    assert appointments.slots(desk) == []


def test_a_log_form_sent_twice_is_one_item(app: Flask, desk: Desk) -> None:
    officer = staff_client(app, desk, "zhiban", "duty_officer")
    page = officer.get("/staff/desk/log/visit").get_data(as_text=True)
    key = re.search(r'name="form_key" value="([^"]+)"', page).group(1)
    data = {"csrf_token": csrf_token(officer, "/staff/desk/log/visit"), "form_key": key,
            "text": CALL_TEXT, "received_at": "2026-03-05T10:00"}
    first = officer.post("/staff/desk/log/visit", data=data)
    again = officer.post("/staff/desk/log/visit", data=data)  # F5 on the receipt page
    assert first.status_code == 200 and again.status_code == 409
    assert 'id="already-saved"' in again.get_data(as_text=True)
    assert 'id="query-code"' not in again.get_data(as_text=True)
    other = staff_client(app, desk, "zhiban2", "duty_officer")  # keys are per officer
    assert other.post("/staff/desk/log/visit", data={
        **data, "csrf_token": csrf_token(other, "/staff/desk/log/visit")}).status_code == 200
    with desk.sessions() as db:
        assert len(list(db.scalars(select(m.Submission.id)))) == 2


# --- Two teams, each with its round: every desk channel files under the right one ------------


def desk_items(desk: Desk) -> list[tuple[str, int]]:
    with desk.sessions() as db:
        return [(row.channel, row.round_id) for row in db.scalars(
            select(m.Submission).order_by(m.Submission.id))]


def log_call(client: FlaskClient, **fields: str) -> TestResponse:
    data = {"csrf_token": csrf_token(client, "/staff/desk/log/hotline"), "text": CALL_TEXT,
            "received_at": "2026-03-05T10:00", **fields}
    return client.post("/staff/desk/log/hotline", data=data)


def test_an_officer_of_team_b_files_calls_under_round_b_without_being_asked(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    round_a, round_b = first_round(desk), add_round(desk, tmp_path)
    officer_b = team_client(app, desk, "zhiban_b", "duty_officer", (TEAM_B,))
    page = officer_b.get("/staff/desk/log/hotline").get_data(as_text=True)
    assert 'name="round"' not in page  # one round: no question asked
    assert re.search(r'id="round-name">所属轮次：县委第二巡察组 2026年第二轮常规巡察<', page)
    assert "值班电话 0000-1234567" in page
    response = log_call(officer_b)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert re.search(r'id="receipt-round">所属轮次：县委第二巡察组 2026年第二轮常规巡察', html)
    officer_a = team_client(app, desk, "zhiban_a", "duty_officer", (TEAM_A,))
    assert log_call(officer_a).status_code == 200
    assert desk_items(desk) == [("hotline", round_b.id), ("hotline", round_a.id)]
    # Each desk lists its own team's calls only (intake.scope).
    recent_a = officer_a.get("/staff/desk/").get_data(as_text=True)
    assert recent_a.count("/staff/items/") == 1


def test_an_officer_of_both_teams_chooses_the_round_and_the_choice_is_remembered(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    round_a, round_b = first_round(desk), add_round(desk, tmp_path)
    officer = team_client(app, desk, "zhiban", "duty_officer", (TEAM_A, TEAM_B))
    page = officer.get("/staff/desk/log/visit").get_data(as_text=True)
    assert 'name="round"' in page and "required" in page
    assert f'value="{round_a.slug}" >' in page and f'value="{round_b.slug}" >' in page
    refused = log_call(officer)  # two open rounds: no default, the officer must choose
    assert refused.status_code == 400
    assert "请选择所属轮次" in refused.get_data(as_text=True)
    assert desk_items(desk) == []
    assert log_call(officer, round=round_b.slug).status_code == 200
    page = officer.get("/staff/desk/log/hotline").get_data(as_text=True)
    assert f'value="{round_b.slug}" selected' in page  # remembered for the next call
    slots_page = officer.get("/staff/desk/appointments").get_data(as_text=True)
    assert f'value="{round_b.slug}" selected' in slots_page
    assert desk_items(desk) == [("hotline", round_b.id)]


def test_a_closed_round_is_offered_beside_the_open_one_which_is_the_default(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    old = first_round(desk)
    newer = add_round(desk, tmp_path, slug="qingshan-2026-09", team=TEAM_A,
                      name="县委第一巡察组 2026年第三轮常规巡察")
    rounds.set_state(desk.sessions, old.slug, "closed")
    desk.rounds.refresh(force=True)
    officer = team_client(app, desk, "zhiban", "duty_officer", (TEAM_A,))
    page = officer.get("/staff/desk/log/hotline").get_data(as_text=True)
    assert f'value="{newer.slug}" selected' in page and "已截止" in page
    response = log_call(officer, round=old.slug)  # a late call about the closed round
    assert response.status_code == 200
    assert desk_items(desk) == [("hotline", old.id)]


def test_a_post_naming_another_teams_round_is_refused(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    round_b = add_round(desk, tmp_path)
    officer_a = team_client(app, desk, "zhiban_a", "duty_officer", (TEAM_A,))
    response = log_call(officer_a, round=round_b.slug)
    assert response.status_code == 400
    assert "所选轮次不属于您所在的巡察组" in response.get_data(as_text=True)
    start = (utcnow() + timedelta(days=2)).astimezone(CST).strftime("%Y-%m-%dT09:00")
    token = csrf_token(officer_a, "/staff/desk/appointments")
    slot = officer_a.post("/staff/desk/slots", data={
        "csrf_token": token, "starts_at": start, "place": "接待室", "round": round_b.slug})
    assert slot.status_code == 400
    assert "所选轮次不属于您所在的巡察组" in slot.get_data(as_text=True)
    assert desk_items(desk) == [] and appointments.slots(desk) == []


def test_an_officer_whose_teams_take_no_items_is_told_so(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    round_b = add_round(desk, tmp_path)
    for state in ("closed", "archived"):
        rounds.set_state(desk.sessions, round_b.slug, state)
    desk.rounds.refresh(force=True)
    officer_b = team_client(app, desk, "zhiban_b", "duty_officer", (TEAM_B,))
    page = officer_b.get("/staff/desk/log/hotline").get_data(as_text=True)
    assert 'id="no-round"' in page and 'name="text"' not in page
    assert 'id="no-round"' in officer_b.get("/staff/desk/").get_data(as_text=True)
    response = log_call(officer_b)
    assert response.status_code == 400
    assert "没有受理中的巡察轮次" in response.get_data(as_text=True)
    assert desk_items(desk) == []


def test_a_device_files_calls_under_its_teams_round(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    round_a, round_b = first_round(desk), add_round(desk, tmp_path)
    token = duty.create_device(desk, "河西乡呼叫中心", actor_id=None, actor_label="test",
                               team=TEAM_B)
    client = app.test_client()
    first = push(client, token, call_id="b-1")
    assert first.status_code == 201, first.get_json()
    named = push(client, token, call_id="b-2", round=round_b.slug)  # its own round, named
    assert named.status_code == 201, named.get_json()
    other = push(client, token, call_id="b-3", round=round_a.slug)  # another team's round
    assert other.status_code == 400 and other.get_json()["error"]["field"] == "round"
    assert desk_items(desk) == [("hotline", round_b.id), ("hotline", round_b.id)]

    # A second open round of team B: a push must say which.
    autumn = add_round(desk, tmp_path, slug="hexi-2026-09", name="县委第二巡察组 2026年第三轮巡察")
    unnamed = push(client, token, call_id="b-4")
    assert unnamed.status_code == 400
    error = unnamed.get_json()["error"]
    assert error["field"] == "round" and autumn.slug in error["message"]
    assert push(client, token, call_id="b-4", round=autumn.slug).status_code == 201
    assert desk_items(desk)[-1] == ("hotline", autumn.id)


def test_the_devices_page_binds_each_device_to_a_team(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    round_b = add_round(desk, tmp_path)
    admin = staff_client(app, desk, "guanli", "admin")
    page = admin.get("/staff/desk/devices").get_data(as_text=True)
    assert f"<option >{TEAM_A}</option>" in page and f"<option >{TEAM_B}</option>" in page
    token = csrf_token(admin, "/staff/desk/devices")
    refused = admin.post("/staff/desk/devices", data={"csrf_token": token, "name": "呼叫中心"})
    assert refused.status_code == 400 and "请指明设备属于哪个组" in refused.get_data(as_text=True)
    html = admin.post("/staff/desk/devices", data={
        "csrf_token": token, "name": "河西乡呼叫中心", "team": TEAM_B}).get_data(as_text=True)
    device_token = re.search(r'id="new-token">新令牌：<code>([^<]+)</code>', html).group(1)
    assert re.search(rf"<td>河西乡呼叫中心</td><td>{TEAM_B}</td>", html)
    pushed = push(app.test_client(), device_token)
    assert pushed.status_code == 201
    assert desk_items(desk) == [("hotline", round_b.id)]


def test_slots_belong_to_a_round_and_show_on_its_public_page(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    round_a, round_b = first_round(desk), add_round(desk, tmp_path)
    start = (utcnow() + timedelta(days=2)).astimezone(CST).strftime("%Y-%m-%dT09:00")
    officer_b = team_client(app, desk, "zhiban_b", "duty_officer", (TEAM_B,))
    token = csrf_token(officer_b, "/staff/desk/appointments")
    officer_b.post("/staff/desk/slots", data={"csrf_token": token, "starts_at": start,
                                              "place": "河西乡信访接待室"})
    (slot,) = appointments.slots(desk)
    assert slot.round_id == round_b.id
    client = app.test_client()
    assert "河西乡信访接待室" in client.get(f"/r/{round_b.slug}/appointment").get_data(
        as_text=True)
    assert "河西乡信访接待室" not in client.get(f"/r/{round_a.slug}/appointment").get_data(
        as_text=True)
    officer_a = team_client(app, desk, "zhiban_a", "duty_officer", (TEAM_A,))
    assert "河西乡信访接待室" not in officer_a.get("/staff/desk/appointments").get_data(
        as_text=True)

    both = team_client(app, desk, "zhiban", "duty_officer", (TEAM_A, TEAM_B))
    token = csrf_token(both, "/staff/desk/appointments")
    page = both.get("/staff/desk/appointments").get_data(as_text=True)
    assert 'name="round"' in page and "<th>轮次</th>" in page
    later = (utcnow() + timedelta(days=3)).astimezone(CST).strftime("%Y-%m-%dT09:00")
    refused = both.post("/staff/desk/slots", data={"csrf_token": token, "starts_at": later,
                                                   "place": "接待室"})
    assert refused.status_code == 400 and "请选择所属轮次" in refused.get_data(as_text=True)
    both.post("/staff/desk/slots", data={"csrf_token": token, "starts_at": later,
                                         "place": "青山镇接待室", "round": round_a.slug})
    assert [s.round_id for s in appointments.slots(desk)] == [round_b.id, round_a.id]
