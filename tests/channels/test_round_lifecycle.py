"""Items arriving for a round after it closed or was archived, over the real SMTP server: a
closed round still takes mail (marked late); an archived round's mailbox answers 550."""

from __future__ import annotations

import smtplib

import pytest

from intake.rounds import set_state
from intake.store import models as m
from tests.channels.mailserver import MAILBOX, Running, chinese_mail


def test_mail_to_a_closed_round_is_late_and_to_an_archived_one_refused(
        running: Running) -> None:
    desk = running.desk
    slug = desk.rounds.all()[0].slug
    set_state(desk.sessions, slug, "closed", actor_label="test")
    desk.rounds.refresh(force=True)
    running.send(chinese_mail())
    [item] = running.items()
    assert item.late and item.needs_review  # taken in, for a person to decide

    set_state(desk.sessions, slug, "archived", actor_label="test", reason="已移交")
    desk.rounds.refresh(force=True)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        running.send(chinese_mail(subject="再反映一次"), to=MAILBOX)
    [(code, _)] = refused.value.recipients.values()
    assert code == 550
    assert running.count(m.Submission) == 1
    assert running.count(m.InboundMail) == 1
