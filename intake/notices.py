"""Telling reporters what happened (件件有着落，事事有回音): the notices of the ledger's steps.

Three steps speak to the reporter: acceptance (受理告知), transfer (转办告知) and the result
(办理结果). Each becomes a team message on the status page, where every reporter (named or
anonymous, with the query code) reads it, and, where the reporter reads elsewhere, one
delivery to do: an e-mail through the outbox for an e-mail reporter (sender-neutral: no team
or inspection named in the subject or sender name), a printed letter in a sender-neutral
envelope for a named letter writer with an address, a call back for a named caller or visitor
with a phone. Pending deliveries are the duty officer's lists (letters to print, calls to make).

The texts are plain words for the public. They never name the person reported on, the reporter,
or the query code, and tell no more than the status does.
"""

from __future__ import annotations

from datetime import date
from email.utils import formataddr
from string import Template

from sqlalchemy.orm import Session

from intake.desk import Desk
from intake.documents import cn_date
from intake.outbox import compose_reply, db_queue
from intake.round import Round
from intake.store import models as m
from intake.triage import Actor
from intake.workdays import CHINA

NOTICE_NAMES = {"accepted": "受理告知", "transferred": "转办告知", "result": "办理结果告知"}
DELIVERY_NAMES = {"status_page": "查询页面", "email": "电子邮件", "letter": "书面告知（邮寄）",
                  "callback": "电话回复"}

TEMPLATES = {
    "accepted": "您于$received反映的问题已收到。经研究，已予受理，我们将依规依纪依法办理，"
                "办理结果将另行告知。感谢您的信任和支持。",
    "transferred": "您于$received反映的问题已收到。经研究，该问题不属于本轮巡察受理范围，"
                   "已按规定转交$department办理，您也可以直接向该单位了解办理情况。"
                   "感谢您的信任和支持。",
    "result": "您于$received反映的问题$result感谢您的信任和支持。",
}
RESULT_DEFAULT = "已办理完毕，我们已按规定作了处理。"
# What a closed case tells its reporter when staff wrote no result of their own: the words fit
# the disposal, and never say more than that (谈话函询, 初步核实 … are the commission's work).
RESULT_BY_DISPOSAL = {
    "talk_inquiry": "已按规定处置，有关方面正在依规依纪处理。",
    "preliminary_check": "已按规定处置，有关方面正在依规依纪处理。",
    "handed_to_commission": "已按规定移交有关纪检监察机关依规依纪依法处理。",
    "shelved": "已登记留存。如您有新的情况或具体线索，欢迎继续反映。",
    "concluded": "已办理完毕，我们已按规定作了处理。",
    "transferred_done": "已由有关部门办理完毕。",
    "no_action": "经研究，不作进一步处理。如您有新的具体情况，欢迎继续反映。",
}
EMAIL_SUBJECT = "关于您来信反映问题的回复"


def notice_text(kind: str, *, received_on: date, department_name: str = "",
                result: str = "", disposal: str = "") -> str:
    """The notice's words, from the standard template of its kind; a result told by staff,
    else the words that fit the disposal."""
    result = result.strip()
    if result and not result.endswith(("。", "！", "？", ".")):
        result += "。"
    return Template(TEMPLATES[kind]).substitute(
        received=cn_date(received_on), department=department_name or "有关部门",
        result=f"已办理完毕。办理情况：{result}" if result
        else RESULT_BY_DISPOSAL.get(disposal, RESULT_DEFAULT))


def receiver_name(desk: Desk, code: str) -> str:
    """The receiving body a transfer goes to: the county's configured name, else the
    generic one of routing_rules/departments.yaml."""
    if code in desk.receivers:
        return desk.receivers[code].name
    return str(desk.rules.departments[code])


def delivery_for(row: m.Submission, email: str, address: str, phone: str) -> str:
    """Where, beyond the status page, this reporter reads a notice."""
    if row.anonymous:
        return "status_page"
    if row.channel == "email" and email:
        return "email"
    if row.channel in ("letter", "box") and address:
        return "letter"
    if row.channel in ("hotline", "visit") and phone:
        return "callback"
    if email:
        return "email"
    if phone:
        return "callback"
    if address:
        return "letter"
    return "status_page"


def db_notify(session: Session, desk: Desk, row: m.Submission, kind: str, actor: Actor,
              cfg: Round, *, department_name: str = "", result: str = "",
              disposal: str = "") -> m.Notice:
    """The notice of a step, in the step's transaction: a team message, and its delivery."""
    received = row.received_at.astimezone(cfg.opens.tzinfo or CHINA).date()
    text = notice_text(kind, received_on=received, department_name=department_name,
                       result=result, disposal=disposal)
    message = m.Message(submission_id=row.id, author="team", text=text, staff_id=actor.id,
                        at=m.utcnow())
    session.add(message)
    session.flush()
    email = address = phone = ""
    if not row.anonymous and row.identity_sealed is not None:
        identity = desk.keyring.open_identity(row.identity_sealed)
        email, address, phone = identity.email, identity.address, identity.phone
    delivery = delivery_for(row, email, address, phone)
    at = m.utcnow()
    shown = delivery == "status_page"  # on the status page from now on: done
    notice = m.Notice(submission_id=row.id, kind=kind, message_id=message.id, delivery=delivery,
                      state="done" if shown else "pending", done_at=at if shown else None,
                      created_by=actor.id, created_at=at)
    if delivery == "email":
        msg = compose_reply(desk, to=email, body=_email_body(text, desk), subject=EMAIL_SUBJECT,
                            round_=cfg)
        msg.replace_header("From", formataddr(("", msg["From"].addresses[0].addr_spec)))
        outbox = db_queue(session, desk, msg, kind=f"notice_{kind}",
                          recipient_key=desk.keyring.sender_lookup(email),
                          submission_id=row.id)
        session.flush()
        notice.outbox_id, notice.state, notice.done_at = outbox.id, "done", at
    session.add(notice)
    session.flush()
    session.add(m.ItemStep(submission_id=row.id, staff_id=actor.id, kind="notice",
                           detail={"notice": kind, "delivery": delivery, "notice_id": notice.id},
                           at=m.utcnow()))
    return notice


def _email_body(text: str, desk: Desk) -> str:
    status_url = f"{desk.settings.effective_public_base_url}/status"
    return (f"您好：\n\n{text}\n\n可在 {status_url} 输入查询码和密码查看办理情况和往来消息。\n\n"
            "本邮件由系统自动发送，请勿转发。\n")
