"""ingest(): one transaction from received item to queued suggestion."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from intake.desk import Desk, open_desk
from intake.pipeline import check_status, ingest
from intake.store import models as m
from intake.submission import IncomingFile, InvalidSubmissionError
from tests.support import make_submission


def test_item_is_stored_classified_and_queued(desk: Desk) -> None:
    receipt = ingest(desk, make_submission())
    assert len(receipt.code) == 16 and not receipt.late
    with desk.sessions() as s:
        row = s.get(m.Submission, receipt.submission_id)
        assert row.status == "received" and row.channel == "web" and row.anonymous
        cls = row.current
        assert (cls.version, cls.source) == (1, "service")
        # No model trained in this data folder: the default layer shipped with the package.
        assert re.fullmatch(r"keywords-1\+sem-default-[0-9a-f]{10}", cls.model_version)
        assert cls.in_scope and "mass" in cls.disciplines and cls.routes[0] == "accept"
        assert any(e["label"] == "mass" for e in cls.evidence)
        assert row.in_scope is True and row.subject_role == cls.subject_role
        labels = set(s.execute(select(m.SubmissionLabel.kind, m.SubmissionLabel.value)).all())
        assert ("discipline", "mass") in labels and ("route", "accept") in labels


def test_reporter_fields_are_hints(desk: Desk) -> None:
    receipt = ingest(desk, make_submission(
        text="他把村里的集体土地偷偷租给自己小舅子开厂，租金一分没进村账。",
        subject_name="刘德福", subject_post="村支书", subject_unit="东岭村"))
    with desk.sessions() as s:
        cls = s.get(m.Submission, receipt.submission_id).current
        assert cls.subject_role == "subordinate_head"
        assert any(subj["name"] == "刘德福" for subj in cls.subjects)


def test_item_after_close_is_kept_and_marked_late(desk: Desk) -> None:
    late = ingest(desk, make_submission(received_at=desk.round.closes + timedelta(minutes=1)))
    on_time = ingest(desk, make_submission(received_at=desk.round.closes))
    assert late.late and not on_time.late
    with desk.sessions() as s:
        row = s.get(m.Submission, late.submission_id)
        assert row.late and row.needs_review and row.current.needs_review


class BrokenClassifier:
    def classify(self, text: str, **_kw: object) -> None:
        raise RuntimeError("model file corrupted")


def test_a_failing_classifier_never_costs_the_item(desk: Desk,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(desk.default_round(), "_classifier", BrokenClassifier())
    receipt = ingest(desk, make_submission())
    with desk.sessions() as s:
        row = s.get(m.Submission, receipt.submission_id)
        assert row.current is None and row.in_scope is None and row.needs_review
    assert check_status(desk, receipt.code, "secret-pass").status == "received"


def test_honeypot_item_is_kept_as_spam(desk: Desk) -> None:
    receipt = ingest(desk, make_submission(suspected_bot=True))
    with desk.sessions() as s:
        assert s.get(m.Submission, receipt.submission_id).status == "spam"
    # the sender is told nothing different
    assert check_status(desk, receipt.code, "secret-pass").status_text == "已收到，正在研判"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"text": "\x00\x01  "}, "text"),
        ({"password": "short"}, "password"),
        ({"anonymous": False}, "reporter_name"),
        ({"attachments": (IncomingFile("x.exe", io.BytesIO(b"MZ\x90\x00" * 10)),)},
         "attachments"),
    ],
)
def test_invalid_items_store_nothing(desk: Desk, overrides: dict, field: str) -> None:
    with pytest.raises(InvalidSubmissionError) as info:
        ingest(desk, make_submission(**overrides))
    assert info.value.field == field
    with desk.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Submission)) == 0


def test_text_is_normalised_but_the_words_kept(desk: Desk) -> None:
    receipt = ingest(desk, make_submission(text="  第一行\r\n第二行\x07\u200b  "))
    with desk.sessions() as s:
        assert s.get(m.Submission, receipt.submission_id).text == "第一行\n第二行"


def test_round_is_loaded_once_and_reopening_keeps_it(desk: Desk) -> None:
    again = open_desk(desk.settings)
    try:
        assert again.round_id == desk.round_id
        with again.sessions() as s:
            rounds = list(s.scalars(select(m.Round)))
            assert len(rounds) == 1 and rounds[0].active
            assert len(rounds[0].roster) == 15
            assert rounds[0].hotline_hours == ["08:00-12:00", "14:30-17:30"]
            assert rounds[0].mailbox == "xcz1@intake.example.cn"
            assert rounds[0].unit["subordinates"] == ["东岭村", "西坡村", "南河村", "北山社区"]
    finally:
        again.close()
