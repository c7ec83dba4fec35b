"""The lead's life after triage through the staff API (staff-api.md): accept with one keeper,
transfers and their replies, repeats, extension, closing, the notices reporters read, and
every refusal (wrong team, wrong role, a second keeper, a closed lead). Two teams, real app,
real database."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from intake.staff import create_user
from intake.store import models as m
from intake.workdays import add_working_days
from tests.integration.test_staff_api import TEAM_A, World, all_items, at, world  # noqa: F401
from tests.support import STAFF_PASSWORD


def post(w: World, who: str, path: str, body: Any = None, method: str = "post") -> Any:
    client = w.app.test_client()
    return getattr(client, method)(f"/api/v1/staff{path}", json=body if body is not None else {},
                                   headers={"Authorization": f"Bearer {w.tokens[who]}"})


def item(w: World, item_id: int, who: str = "leader_a") -> dict[str, Any]:
    response = w.get(who, f"/items/{item_id}")
    assert response.status_code == 200
    return response.get_json()


def refused(response: Any, status: int, field: str | None = None) -> str:
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    if field is not None:
        assert error["field"] == field
    return str(error["message"])


@pytest.fixture
def team(world: World) -> World:  # noqa: F811
    """A second triager in team A (to be the one who is not the keeper)."""
    from intake.auth.apitokens import create_token

    create_user(world.desk, "triager_a2", "triager", password=STAFF_PASSWORD, teams=[TEAM_A])
    world.tokens["triager_a2"] = create_token(world.desk, "triager_a2", label="测试",
                                              actor_label="test")
    return world


def test_accept_makes_a_numbered_lead_with_one_keeper(team: World) -> None:
    first, second = team.items_a[0], team.items_a[1]
    response = post(team, "triager_a", f"/items/{first}/accept",
                    {"keeper": "triager_a", "note": "线索具体，受理"})
    assert response.status_code == 200, response.get_json()
    lead = response.get_json()
    assert lead["status"] == "accepted" and lead["keeper"] == "triager_a"
    assert lead["lead_no"] == "青山巡线〔2026〕001号"
    assert {d["kind"]: d["overdue"] for d in lead["deadlines"]}["triage"] is False
    accepted = [h for h in lead["history"] if h["event"] == "accepted"]
    assert accepted and accepted[0]["by"] == "triager_a" and accepted[0]["keeper"] == "triager_a"
    assert "线索具体" not in str(lead["history"])  # notes stay off the API's history

    assert post(team, "leader_a", f"/items/{second}/accept",
                {"keeper": "leader_a"}).get_json()["lead_no"] == "青山巡线〔2026〕002号"
    # a second keeper: refused, the first one stays
    message = refused(post(team, "leader_a", f"/items/{first}/accept",
                           {"keeper": "triager_a2"}), 409)
    assert "青山巡线〔2026〕001号" in message and "triager_a" in message
    assert item(team, first)["keeper"] == "triager_a"
    assert [i["id"] for i in all_items(team, "leader_a", "keeper=triager_a")] == [first]


def test_accept_refusals_wrong_team_wrong_role_bad_keeper(team: World) -> None:
    target = team.items_a[2]
    refused(post(team, "duty_a", f"/items/{target}/accept", {"keeper": "triager_a"}), 403)
    refused(post(team, "office", f"/items/{target}/accept", {"keeper": "triager_a"}), 403)
    refused(post(team, "auditor", f"/items/{target}/accept", {"keeper": "triager_a"}), 403)
    refused(post(team, "triager_b", f"/items/{target}/accept", {"keeper": "triager_b"}), 404)
    refused(post(team, "triager_a", f"/items/{team.items_b[0]}/accept",
                 {"keeper": "triager_a"}), 404)
    refused(post(team, "triager_a", f"/items/{target}/accept", {"keeper": "triager_b"}), 400,
            "keeper")  # another team's triager
    refused(post(team, "triager_a", f"/items/{target}/accept", {"keeper": "duty_a"}), 400,
            "keeper")  # a duty officer keeps no lead
    refused(post(team, "triager_a", f"/items/{target}/accept", {}), 400, "keeper")
    refused(post(team, "triager_a", f"/items/{target}/accept", ["x"]), 400)
    assert item(team, target)["status"] == "received"
    with team.desk.sessions() as db:
        assert db.scalar(select(m.RoundCounter.value)) is None  # no number was used up


def test_only_the_team_leader_changes_the_keeper(team: World) -> None:
    target = team.items_a[0]
    post(team, "triager_a", f"/items/{target}/accept", {"keeper": "triager_a"})
    refused(post(team, "triager_a", f"/items/{target}/keeper",
                 {"keeper": "triager_a2", "reason": "分工调整"}), 403)
    refused(post(team, "leader_a", f"/items/{target}/keeper", {"keeper": "triager_a2"}), 400,
            "reason")
    response = post(team, "leader_a", f"/items/{target}/keeper",
                    {"keeper": "triager_a2", "reason": "分工调整"})
    assert response.status_code == 200 and response.get_json()["keeper"] == "triager_a2"
    steps = [h for h in response.get_json()["history"] if h["event"] == "keeper"]
    assert steps[0]["previous"] == "triager_a" and steps[0]["by"] == "leader_a"


def test_a_transfer_gets_a_number_a_clock_and_its_replies_stop_it(team: World) -> None:
    target = team.items_a[1]
    response = post(team, "triager_a", f"/items/{target}/transfers",
                    {"department": "human_resources", "note": "请依法处理"})
    assert response.status_code == 201, response.get_json()
    transfer = response.get_json()
    assert transfer["transfer_no"] == "青山巡转〔2026〕1号"
    assert transfer["department"] == "human_resources" and transfer["status"] == "sent"
    assert transfer["department_name"].startswith("人社局")
    dispatched = date.fromisoformat(transfer["dispatched_at"][:10])
    entry = team.desk.rounds.get(team.round_a)
    assert entry is not None
    assert transfer["accept_due"] == add_working_days(dispatched, 5, entry.cfg).isoformat()
    assert transfer["letter_docx"].endswith(f"/transfers/{transfer['id']}/letter.docx")

    found = item(team, target)
    assert found["status"] == "transferred"
    assert [t["transfer_no"] for t in found["transfers"]] == ["青山巡转〔2026〕1号"]
    clocks = {d["kind"]: d for d in found["deadlines"]}
    assert clocks["transfer_accept"]["due"] == transfer["accept_due"]
    assert clocks["triage"]["overdue"] is False

    refused(post(team, "triager_a", f"/items/{target}/transfers",
                 {"department": "human_resources"}), 409, "department")
    refused(post(team, "triager_a", f"/items/{target}/transfers", {"department": "accept"}),
            400, "department")
    refused(post(team, "triager_a", f"/items/{target}/transfers", {"department": "nope"}),
            400, "department")
    refused(post(team, "duty_a", f"/items/{target}/transfers",
                 {"department": "housing"}), 403)
    refused(post(team, "triager_b", f"/items/{target}/transfers",
                 {"department": "housing"}), 404)
    tid = transfer["id"]
    refused(post(team, "triager_b", f"/transfers/{tid}/replies", {"kind": "accepted"}), 404)
    assert team.get("triager_b", f"/transfers/{tid}").status_code == 404

    refused(post(team, "triager_a", f"/transfers/{tid}/replies", {"kind": "maybe"}), 400, "kind")
    refused(post(team, "triager_a", f"/transfers/{tid}/replies",
                 {"kind": "result"}), 400, "text")
    refused(post(team, "triager_a", f"/transfers/{tid}/replies",
                 {"kind": "accepted", "at": "2099-01-01"}), 400, "at")
    response = post(team, "triager_a", f"/transfers/{tid}/replies", {"kind": "accepted"})
    assert response.status_code == 201 and response.get_json()["transfer"]["status"] == "accepted"
    refused(post(team, "triager_a", f"/transfers/{tid}/replies", {"kind": "accepted"}), 409)
    clocks = {d["kind"]: d for d in item(team, target)["deadlines"]}
    assert clocks["transfer_accept"]["overdue"] is False  # met
    assert clocks["transfer_reply"]["due"] == (dispatched + timedelta(days=60)).isoformat()

    # closing on the result needs the result
    refused(post(team, "triager_a", f"/items/{target}/close",
                 {"disposal": "transferred_done"}), 409, "disposal")
    refused(post(team, "triager_a", f"/transfers/{tid}/replies",  # before it was sent
                 {"kind": "result", "text": "已责令企业补发工资。", "at": "2026-03-20"}), 400, "at")
    response = post(team, "triager_a", f"/transfers/{tid}/replies",
                    {"kind": "result", "text": "已责令企业补发工资。"})
    assert response.get_json()["transfer"]["status"] == "answered"
    refused(post(team, "triager_a", f"/transfers/{tid}/replies",
                 {"kind": "result", "text": "又一个结果"}), 409, "kind")
    response = post(team, "triager_a", f"/items/{target}/close",
                    {"disposal": "transferred_done", "reply": "有关部门已责令补发工资"})
    assert response.status_code == 200 and response.get_json()["status"] == "closed"
    assert response.get_json()["disposal"] == "transferred_done"
    # a closed case takes no answer until the result is disputed
    refused(post(team, "triager_a", f"/transfers/{tid}/replies",
                 {"kind": "returned", "text": "x"}), 409)

    # a disputed result reopens the transfer and the case
    refused(post(team, "triager_a", f"/transfers/{tid}/reopen", {}), 400, "reason")
    response = post(team, "triager_a", f"/transfers/{tid}/reopen", {"reason": "举报人称未补发"})
    assert response.status_code == 200 and response.get_json()["stage"] == "accepted"
    assert item(team, target)["status"] == "transferred"


def test_a_returned_transfer_sends_the_item_back_to_triage(team: World) -> None:
    target = team.items_a[2]
    tid = post(team, "triager_a", f"/items/{target}/transfers",
               {"department": "housing"}).get_json()["id"]
    response = post(team, "triager_a", f"/transfers/{tid}/replies",
                    {"kind": "returned", "text": "不属于我局职责。"})
    assert response.get_json()["transfer"]["status"] == "returned"
    assert item(team, target)["status"] == "received"  # nobody decided it: back to the queue
    refused(post(team, "triager_a", f"/transfers/{tid}/replies", {"kind": "result",
                                                                  "text": "x"}), 409)
    # a lead that transferred one part keeps its status when the part is returned
    lead = team.items_a[3]
    post(team, "triager_a", f"/items/{lead}/accept", {"keeper": "triager_a"})
    part = post(team, "triager_a", f"/items/{lead}/transfers",
                {"department": "human_resources", "part": "欠薪部分：工地欠工人工资"})
    assert part.status_code == 201
    assert item(team, lead)["status"] == "accepted"
    post(team, "triager_a", f"/transfers/{part.get_json()['id']}/replies",
         {"kind": "returned", "text": "请补充材料"})
    assert item(team, lead)["status"] == "accepted"


def test_repeats_are_registered_counted_and_can_be_undone(team: World) -> None:
    first, later = team.items_a[1], team.items_a[3]
    refused(post(team, "triager_a", f"/items/{first}/repeat", {"of": later}), 400, "of")
    refused(post(team, "triager_a", f"/items/{later}/repeat", {"of": later}), 400, "of")
    refused(post(team, "triager_a", f"/items/{later}/repeat", {"of": "x"}), 400, "of")
    # another team's item is "not found" as the original, as an item that does not exist
    other = refused(post(team, "triager_a", f"/items/{later}/repeat", {"of": team.items_b[0]}),
                    400, "of")
    assert other == refused(post(team, "triager_a", f"/items/{later}/repeat",
                                 {"of": 2**31 - 1}), 400, "of").replace(str(2**31 - 1),
                                                                       str(team.items_b[0]))
    refused(post(team, "triager_a", f"/items/{later}/repeat", {"of": 10**30}), 400, "of")
    refused(post(team, "duty_a", f"/items/{later}/repeat", {"of": first}), 403)
    response = post(team, "triager_a", f"/items/{later}/repeat", {"of": first})
    assert response.status_code == 200
    found = response.get_json()
    assert found["repeat_of"] == first and found["status"] == "closed"
    assert found["disposal"] == "repeat"
    assert all(not d["overdue"] for d in found["deadlines"])
    assert item(team, first)["repeats"] == [later]
    # a repeat is not handled twice
    refused(post(team, "triager_a", f"/items/{later}/accept", {"keeper": "triager_a"}), 409)
    refused(post(team, "triager_a", f"/items/{later}/transfers", {"department": "housing"}), 409)
    # a repeat of a repeat points at the first
    last = team.items_a[4]
    assert post(team, "triager_a", f"/items/{last}/repeat",
                {"of": later}).get_json()["repeat_of"] == first
    response = post(team, "triager_a", f"/items/{later}/repeat", method="delete")
    assert response.status_code == 200 and response.get_json()["repeat_of"] is None
    assert response.get_json()["status"] == "received"
    refused(post(team, "triager_a", f"/items/{later}/repeat", method="delete"), 409)


def test_closing_refusals_and_the_keeper_rule(team: World) -> None:
    lead = team.items_a[0]
    refused(post(team, "triager_a", f"/items/{lead}/close", {"disposal": "talk_inquiry"}),
            409, "disposal")  # not a lead yet
    post(team, "triager_a", f"/items/{lead}/accept", {"keeper": "triager_a"})
    refused(post(team, "triager_a", f"/items/{lead}/close", {"disposal": "whatever"}), 400,
            "disposal")
    refused(post(team, "triager_a2", f"/items/{lead}/close", {"disposal": "talk_inquiry"}),
            403)  # not its keeper
    refused(post(team, "duty_a", f"/items/{lead}/close", {"disposal": "talk_inquiry"}), 403)
    refused(post(team, "triager_b", f"/items/{lead}/close", {"disposal": "talk_inquiry"}), 404)
    response = post(team, "triager_a", f"/items/{lead}/close",
                    {"disposal": "talk_inquiry", "note": "已谈话"})
    assert response.status_code == 200 and response.get_json()["status"] == "closed"
    assert response.get_json()["lead_no"] == "青山巡线〔2026〕001号"
    # a closed lead takes no further step
    refused(post(team, "leader_a", f"/items/{lead}/close", {"disposal": "concluded"}), 409)
    refused(post(team, "leader_a", f"/items/{lead}/accept", {"keeper": "leader_a"}), 409)
    refused(post(team, "leader_a", f"/items/{lead}/transfers", {"department": "housing"}), 409)
    refused(post(team, "leader_a", f"/items/{lead}/extend", {"reason": "复杂"}), 409)
    refused(post(team, "leader_a", f"/items/{lead}/keeper",
                 {"keeper": "leader_a", "reason": "x"}), 409)
    refused(post(team, "leader_a", f"/items/{lead}/repeat", {"of": team.items_a[1]}), 400)
    # the team leader closes any lead of the team
    other = team.items_a[2]
    post(team, "triager_a", f"/items/{other}/accept", {"keeper": "triager_a"})
    assert post(team, "leader_a", f"/items/{other}/close",
                {"disposal": "shelved"}).status_code == 200
    # an item never accepted closes without a lead's disposal
    assert post(team, "triager_a", f"/items/{team.items_a[3]}/close",
                {"disposal": "no_action"}).get_json()["status"] == "closed"


def test_the_close_limit_extends_once_with_a_reason(team: World) -> None:
    target = team.items_a[0]
    before = {d["kind"]: d["due"] for d in item(team, target)["deadlines"]}["close"]
    refused(post(team, "triager_a", f"/items/{target}/extend", {}), 400, "reason")
    response = post(team, "triager_a", f"/items/{target}/extend", {"reason": "需要调取账目"})
    assert response.status_code == 200
    after = {d["kind"]: d["due"] for d in response.get_json()["deadlines"]}["close"]
    assert (date.fromisoformat(after) - date.fromisoformat(before)).days == 30
    refused(post(team, "triager_a", f"/items/{target}/extend", {"reason": "再延"}), 409)


def test_the_overdue_queue_holds_late_transfers(team: World) -> None:
    target = team.items_a[1]
    tid = post(team, "triager_a", f"/items/{target}/transfers",
               {"department": "housing"}).get_json()["id"]
    overdue = {i["id"] for i in all_items(team, "leader_a", "overdue=true")}
    assert target in overdue  # received in March: its close limit passed long ago
    with team.desk.sessions() as db:
        db.execute(update(m.Submission).where(m.Submission.id == target)
                   .values(received_at=at("2026-12-01")))
        db.commit()
    assert target not in {i["id"] for i in all_items(team, "leader_a", "overdue=true")}
    with team.desk.sessions() as db:
        db.execute(update(m.Transfer).where(m.Transfer.id == tid)
                   .values(accept_due=date(2026, 12, 2)))
        db.commit()
    assert target in {i["id"] for i in all_items(team, "leader_a", "overdue=true")}
    listed = team.get("leader_a", "/transfers?status=overdue").get_json()["transfers"]
    assert [t["id"] for t in listed] == [tid] and listed[0]["status"] == "overdue"
    assert team.get("triager_b", "/transfers").get_json()["transfers"] == []
    post(team, "triager_a", f"/transfers/{tid}/replies", {"kind": "accepted"})
    assert target not in {i["id"] for i in all_items(team, "leader_a", "overdue=true")}


def test_a_named_reporter_reads_acceptance_and_result_on_the_status_page(team: World) -> None:
    named = team.named
    post(team, "triager_a", f"/items/{named}/accept", {"keeper": "triager_a"})
    clocks = {d["kind"]: d for d in item(team, named)["deadlines"]}
    assert clocks["reply_accept"]["overdue"] is False
    public = team.app.test_client()

    def status() -> dict[str, Any]:
        response = public.post(f"/api/v1/reports/{team.named_code}/status",
                               json={"password": "my-secret-1"})
        assert response.status_code == 200
        return response.get_json()

    body = status()
    assert body["status_text"] == "已受理"
    assert "已予受理" in str(body)
    post(team, "triager_a", f"/items/{named}/close",
         {"disposal": "concluded", "reply": "经核实，已责令退回资金"})
    body = status()
    assert body["status_text"] == "已办结" and "经核实，已责令退回资金" in str(body)
    with team.desk.sessions() as db:
        kinds = [(n.kind, n.delivery, n.state) for n in db.scalars(
            select(m.Notice).where(m.Notice.submission_id == named).order_by(m.Notice.id))]
    # named, posted through the API with a phone: a call back to make, each time
    assert kinds == [("accepted", "callback", "pending"), ("result", "callback", "pending")]


def test_the_transfer_letter_prints_without_the_reporter(team: World) -> None:
    from io import BytesIO

    from docx import Document
    from pypdf import PdfReader

    from tests.support import NAMED_IDENTITY

    named = team.named
    response = post(team, "triager_a", f"/items/{named}/transfers",
                    {"department": "agriculture_rural", "note": "请核查补偿款发放情况"})
    transfer = response.get_json()
    response = team.get("triager_a", f"/transfers/{transfer['id']}/letter.docx")
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("no-store")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    text = "\n".join(p.text for p in Document(BytesIO(response.data)).paragraphs)
    text += "\n".join(c.text for t in Document(BytesIO(response.data)).tables
                      for r in t.rows for c in r.cells)
    assert transfer["transfer_no"] in text and "请核查补偿款发放情况" in text
    assert "郑国平" in text  # the matter (masked) goes with the letter
    for secret in (NAMED_IDENTITY.name, NAMED_IDENTITY.phone, team.named_code,
                   team.named_code.replace("-", "")):
        assert secret not in text
    pdf = team.get("triager_a", f"/transfers/{transfer['id']}/letter.pdf")
    if pdf.status_code == 503:
        pytest.skip(pdf.get_json()["error"]["message"])
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    pdf_text = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf.data)).pages)
    pdf_text = pdf_text.replace("\x00", "")
    assert transfer["transfer_no"] in pdf_text
    assert NAMED_IDENTITY.name not in pdf_text and NAMED_IDENTITY.phone not in pdf_text
    assert team.get("triager_b", f"/transfers/{transfer['id']}/letter.pdf").status_code == 404
    assert team.get("office", f"/transfers/{transfer['id']}/letter.pdf").status_code == 403
    with team.desk.sessions() as db:
        assert db.scalar(select(m.AuditEvent.id).where(
            m.AuditEvent.action == "transfer.letter")) is not None


def test_a_decision_confirms_or_corrects_through_the_api(team: World) -> None:
    target = team.items_a[0]
    refused(post(team, "duty_a", f"/items/{target}/decision", {}), 403)
    refused(post(team, "triager_b", f"/items/{target}/decision", {}), 404)
    refused(post(team, "triager_a", f"/items/{target}/decision", {"in_scope": "yes"}), 400,
            "in_scope")
    response = post(team, "triager_a", f"/items/{target}/decision", {})
    assert response.status_code == 200 and response.get_json()["status"] == "triaged"
    assert response.get_json()["history"][-1]["event"] == "confirmed"
    response = post(team, "triager_a", f"/items/{target}/decision", {
        "in_scope": False, "subject_role": "staff", "disciplines": [],
        "routes": ["civil_affairs"], "note": "低保申请，转民政"})
    found = response.get_json()
    assert found["in_scope"] is False and found["routes"] == ["civil_affairs"]
    assert found["history"][-1]["event"] == "corrected"
    refused(post(team, "triager_a", f"/items/{target}/decision", {
        "in_scope": False, "subject_role": "staff", "disciplines": [], "routes": []}), 400)


def test_a_correction_through_the_api_strikes_out_a_person(team: World) -> None:
    target = team.items_a[0]
    listed = [{"mention": "县长", "name": "", "post": "县长", "role": "outside_official",
               "score": 0.7, "start": -1, "end": -1},
              {"mention": "刘书记", "name": "刘德福", "post": "东岭村党支部书记",
               "role": "subordinate_head", "score": 0.9, "start": -1, "end": -1}]
    with team.desk.sessions() as db:
        db.get_one(m.Submission, target).current.subjects = listed
        db.commit()
    body = {"in_scope": True, "subject_role": "subordinate_head", "disciplines": ["mass"],
            "routes": []}
    for bad in ([5], ["0"], [True], 0):
        refused(post(team, "triager_a", f"/items/{target}/decision",
                     {**body, "drop_subjects": bad}), 400)
    response = post(team, "triager_a", f"/items/{target}/decision",
                    {**body, "drop_subjects": [0]})
    assert response.status_code == 200, response.get_json()
    with team.desk.sessions() as db:
        assert [s["name"] for s in db.get_one(m.Submission, target).current.subjects] == [
            "刘德福"]


def test_a_round_numbers_its_ledger_as_its_file_says(tmp_path: Any) -> None:
    from intake.leads import format_number
    from intake.round import RoundFileError, parse_round
    from intake.settings import EXAMPLE_ROUND

    source = EXAMPLE_ROUND.read_text(encoding="utf-8")
    cfg = parse_round(source)
    assert format_number(cfg, "lead", 12) == "青山巡线〔2026〕012号"
    assert format_number(cfg, "transfer", 3) == "青山巡转〔2026〕3号"
    plain = parse_round(source.replace('    lead: "青山巡线〔{year}〕{n:03d}号"\n', ""))
    assert format_number(plain, "lead", 7) == "青山巡线〔2026〕007号"  # the default
    for bad in ("青山巡线〔{year}〕号", "{name}{n}", "{n:q}"):
        with pytest.raises(RoundFileError, match="编号格式"):
            parse_round(source.replace("青山巡线〔{year}〕{n:03d}号", bad))


def test_an_email_reporter_hears_by_email_from_a_neutral_sender(team: World) -> None:
    from email import message_from_bytes, policy

    from intake.outbox import SEAL_CONTEXT
    from intake.pipeline import ingest
    from intake.protect import Identity
    from tests.support import make_submission

    receipt = ingest(team.desk, make_submission(
        round_id=team.round_a, channel="email", anonymous=False,
        identity=Identity(email="villager@example.cn", display_name="老张"),
        text="东岭村党支部书记刘德福把低保名额给了自己的亲戚。"))
    post(team, "triager_a", f"/items/{receipt.submission_id}/accept", {"keeper": "triager_a"})
    with team.desk.sessions() as db:
        notice = db.scalar(select(m.Notice).where(m.Notice.submission_id == receipt.submission_id))
        assert notice is not None and notice.delivery == "email" and notice.state == "done"
        mail = db.get(m.OutboxMail, notice.outbox_id)
        assert mail is not None and mail.kind == "notice_accepted" and mail.status == "queued"
        sent = message_from_bytes(team.desk.keyring.unseal(mail.sealed, SEAL_CONTEXT),
                                  policy=policy.default)
    assert sent["To"] == "villager@example.cn"
    assert "巡察" not in str(sent["From"]) and "巡察" not in str(sent["Subject"])
    body = sent.get_content()
    assert "已予受理" in body and "刘德福" not in body


def test_a_lead_is_not_marked_spam(team: World) -> None:
    from intake.staff import StaffError
    from intake.triage import Actor, set_spam

    target = team.items_a[0]
    post(team, "triager_a", f"/items/{target}/accept", {"keeper": "triager_a"})
    with team.desk.sessions() as db:
        user = db.scalar(select(m.StaffUser).where(m.StaffUser.username == "triager_a"))
        assert user is not None
    with pytest.raises(StaffError, match="不能再标为垃圾信息"):
        set_spam(team.desk, Actor(user.id, "triager_a", "triager"), target, spam=True)
    assert item(team, target)["status"] == "accepted"


def test_what_triage_decided_stays_once_the_case_moved_on(team: World) -> None:
    target = team.items_a[0]
    post(team, "triager_a", f"/items/{target}/accept", {"keeper": "triager_a"})
    message = refused(post(team, "triager_a", f"/items/{target}/decision", {
        "in_scope": False, "subject_role": "staff", "disciplines": [],
        "routes": ["civil_affairs"]}), 409)
    assert "不再更改" in message
    refused(post(team, "triager_a", f"/items/{target}/decision", {}), 409)
    assert item(team, target)["in_scope"] is not False


def test_a_notice_names_nobody_and_fits_the_disposal(team: World) -> None:
    named = team.named
    post(team, "triager_a", f"/items/{named}/accept", {"keeper": "triager_a"})
    message = refused(post(team, "triager_a", f"/items/{named}/close", {
        "disposal": "shelved", "reply": "经核实，对郑国平予以诫勉谈话。"}), 400, "reply")
    assert "郑国平" in message
    assert item(team, named)["status"] == "accepted"
    post(team, "triager_a", f"/items/{named}/close", {"disposal": "shelved"})
    status = team.app.test_client().post(f"/api/v1/reports/{team.named_code}/status",
                                         json={"password": "my-secret-1"}).get_json()
    last = status["messages"][-1]["text"]
    assert "已登记留存" in last and "已办理完毕" not in last


def test_the_reporters_of_repeats_hear_what_the_first_one_hears(team: World) -> None:
    from intake.pipeline import add_reporter_message_to
    from tests.integration.test_staff_api import login

    first, repeat = team.items_a[0], team.items_a[2]
    post(team, "triager_a", f"/items/{first}/accept", {"keeper": "triager_a"})
    post(team, "triager_a", f"/items/{repeat}/repeat", {"of": first})
    post(team, "triager_a", f"/items/{first}/close", {"disposal": "concluded",
                                                       "reply": "已责令整改"})
    with team.desk.sessions() as db:
        told = [(n.kind, n.delivery) for n in db.scalars(
            select(m.Notice).where(m.Notice.submission_id == repeat).order_by(m.Notice.id))]
        words = [msg.text for msg in db.scalars(select(m.Message).where(
            m.Message.submission_id == repeat, m.Message.author == "team"))]
    assert [kind for kind, _ in told] == ["accepted", "result"]  # as the first stood, then
    assert "已责令整改" in words[-1]
    add_reporter_message_to(team.desk, repeat, "补充：他弟弟也领了补助。")
    page = login(team, "triager_a").get(f"/staff/items/{first}").get_data(as_text=True)
    assert "重复件举报人的补充" in page and "补充：他弟弟也领了补助。" in page


def test_numbers_taken_at_once_have_no_gaps_and_no_twins(team: World) -> None:
    """Several triagers accept and transfer at the same moment: each number once, in order."""
    from concurrent.futures import ThreadPoolExecutor

    from intake import leads
    from intake.pipeline import ingest
    from intake.triage import Actor
    from tests.support import make_submission

    ids = [ingest(team.desk, make_submission(
        round_id=team.round_a, text=f"第{n}件：村干部优亲厚友。")).submission_id for n in range(12)]
    with team.desk.sessions() as db:
        user = db.scalar(select(m.StaffUser).where(m.StaffUser.username == "triager_a"))
        assert user is not None
    actor = Actor(user.id, "triager_a", "triager")

    def step(n_item: tuple[int, int]) -> str:
        n, item_id = n_item
        if n % 2:
            leads.transfer(team.desk, actor, item_id, department="civil_affairs")
            return "transfer"
        return leads.accept(team.desk, actor, item_id, keeper="triager_a")

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(step, enumerate(ids)))
    with team.desk.sessions() as db:
        lead_seqs = sorted(db.scalars(select(m.Lead.seq)))
        transfer_seqs = sorted(db.scalars(select(m.Transfer.seq)))
    assert lead_seqs == list(range(1, 7)) and transfer_seqs == list(range(1, 7))
