"""Scanned letters and suggestion-box notes: upload, OCR, grouping, review, submission.

OCR runs the real engine on pages rendered with the Noto CJK font; the few fakes below stand
in for an engine only where the test is about what happens around it (a lease, a crash).
"""

from __future__ import annotations

import io
import os
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from intake import letters
from intake.desk import Desk
from intake.maskstore import open_name
from intake.ocr import PageText
from intake.ocrworker import (
    RETRY_AFTER,
    OcrWorker,
    PlainCopies,
    claim_page,
    page_jpeg,
    read_page,
    run_pending,
)
from intake.staff import create_user
from intake.store import models as m
from tests.ocr_letters import LETTERS, Letter, render_letter, require_font
from tests.support import csrf_token, staff_client
from tests.two_teams import (
    BOXES_B,
    POSTAL_B,
    TEAM_A,
    TEAM_B,
    add_round,
    first_round,
    team_client,
)

OPENED = datetime(2026, 3, 9, 0, 30, tzinfo=UTC)  # 08:30 in Beijing
NOTE_SIZE = (1000, 700)


@pytest.fixture
def font() -> None:
    require_font()


@pytest.fixture
def officer(desk: Desk) -> int:
    user, _ = create_user(desk, "officer", "duty_officer", password="long-enough-pw")
    return user.id


# --- files to upload ------------------------------------------------------------------------


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def png(color: str = "white", size: tuple[int, int] = (60, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def pdf(*images: Image.Image) -> bytes:
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=list(images[1:]), resolution=150)
    return out.getvalue()


def noise_png(side: int, seed: int = 0) -> bytes:
    """A PNG that does not compress: about 3 x side x side bytes."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", compress_level=1)
    return out.getvalue()


def note(text: str, signature: tuple[str, ...] = ()) -> Image.Image:
    """A short handwritten-size note, rendered small so that OCR is quick."""
    image, _ = render_letter(Letter(title="", greeting="", body=text, signature=signature),
                             font_size=30, size=NOTE_SIZE)
    return image


def two_letters_of_post() -> bytes:
    """A day's post scanned into one PDF: a two-page letter, then a one-page letter."""
    first = LETTERS[0]
    page1, _ = render_letter(replace(first, signature=()))
    page2, _ = render_letter(Letter(title="", greeting="", body="另外，村里的账目三年没有公开，"
                                    "村民代表会议也没有开过。", signature=first.signature))
    page3, _ = render_letter(LETTERS[1])
    return pdf(page1, page2, page3)


def new_batch(desk: Desk, source: str = "postal", box: str = "") -> int:
    return letters.create_batch(desk, source=source, box=box, opened_at=OPENED, note="",
                                staff_id=None)


def add(desk: Desk, batch_id: int, name: str, data: bytes) -> letters.AddedFile:
    return letters.add_file(desk, batch_id, name, io.BytesIO(data))


def layout(desk: Desk, batch_id: int) -> list[list[str]]:
    """The batch's letters as lists of "file:page", checking that seq and position are dense."""
    with desk.sessions() as session:
        batch = letters.db_batch(session, batch_id)
        assert batch is not None
        assert [x.seq for x in batch.letters] == list(range(1, len(batch.letters) + 1))
        out = []
        for letter in batch.letters:
            assert [p.position for p in letter.pages] == list(range(1, len(letter.pages) + 1))
            out.append([f"{uploaded(desk, p.file)}:{p.page_no}" for p in letter.pages])
        return out


def pages_of(desk: Desk, batch_id: int) -> list[m.ScanPage]:
    with desk.sessions() as session:
        return list(session.scalars(select(m.ScanPage).where(m.ScanPage.batch_id == batch_id)
                                    .order_by(m.ScanPage.id)))


def letter_ids(desk: Desk, batch_id: int) -> list[int]:
    with desk.sessions() as session:
        return list(session.scalars(select(m.ScanLetter.id).where(
            m.ScanLetter.batch_id == batch_id).order_by(m.ScanLetter.seq)))


def page_id(desk: Desk, batch_id: int, name: str, page_no: int = 1) -> int:
    return next(p.id for p in pages_of(desk, batch_id)
                if p.page_no == page_no and _file_name(desk, p.file_id) == name)


def _file_name(desk: Desk, file_id: int) -> str:
    with desk.sessions() as session:
        return uploaded(desk, session.get_one(m.ScanFile, file_id))


def uploaded(desk: Desk, f: m.ScanFile) -> str:
    """The name a scan was uploaded under: sealed, shown to staff as 附件N.ext."""
    return open_name(desk.keyring, f.name_sealed)


class FixedEngine:
    def __init__(self, text: str) -> None:
        self.text = text

    def read_image(self, image: Image.Image) -> PageText:
        return PageText(self.text, 0.9, 0.01, 0, 0.0)


class BrokenEngine:
    def read_image(self, image: Image.Image) -> PageText:
        raise RuntimeError("onnxruntime ran out of memory")


# --- the core, with the real OCR engine -----------------------------------------------------


def test_a_days_post_is_read_grouped_and_submitted(desk: Desk, officer: int, font: None,
                                                   app: Flask) -> None:
    batch_id = new_batch(desk)
    added = add(desk, batch_id, "今日来信.pdf", two_letters_of_post())
    assert (added.pages, added.error) == (3, "")
    letters.finish_batch(desk, batch_id)
    assert layout(desk, batch_id) == [["今日来信.pdf:1", "今日来信.pdf:2", "今日来信.pdf:3"]]

    assert run_pending(desk) == 3
    # Read: the second letter's salutation (and the first one's dated signature) split them.
    assert layout(desk, batch_id) == [["今日来信.pdf:1", "今日来信.pdf:2"], ["今日来信.pdf:3"]]
    assert {p.ocr_status for p in pages_of(desk, batch_id)} == {"done"}
    first, second = letter_ids(desk, batch_id)
    with desk.sessions() as session:
        text = letters.letter_text(session.get_one(m.ScanLetter, first))
    assert "惠农补贴" in text and "账目三年没有公开" in text and "2026年3月5日" in text

    receipt = letters.submit_letter(desk, first, staff_id=officer, staff_label="officer")
    with desk.sessions() as session:
        item = session.get(m.Submission, receipt.submission_id)
        assert item is not None
        assert (item.channel, item.received_at, item.anonymous) == ("letter", OPENED, True)
        assert "惠农补贴" in item.text
        assert [(a.original_name, a.content_type) for a in item.attachments] == [
            ("附件1.pdf", "application/pdf")]  # the whole PDF, as received
        assert open_name(desk.keyring, item.attachments[0].name_sealed) == "今日来信.pdf"
        scan = session.scalars(select(m.ScanFile).where(m.ScanFile.batch_id == batch_id)).one()
        assert item.attachments[0].sha256 == scan.sha256
        entry = session.get(m.DeskEntry, item.id)
        assert entry is not None and entry.recorded_by == officer
        letter = session.get_one(m.ScanLetter, first)
        assert (letter.submission_id, letter.submitted_by) == (item.id, officer)
        assert letter.text == item.text
    with pytest.raises(letters.LetterError, match="不能重复提交"):
        letters.submit_letter(desk, first, staff_id=officer, staff_label="officer")

    named = letters.submit_letter(desk, second, staff_id=officer, staff_label="officer",
                                  signer=letters.Signer(name="张德胜", phone="13900001111"))
    with desk.sessions() as session:
        item = session.get_one(m.Submission, named.submission_id)
        assert not item.anonymous and item.identity_sealed is not None
        assert desk.keyring.open_identity(item.identity_sealed).name == "张德胜"

    # Both are in the triage queue like any other item.
    client = staff_client(app, desk, "leader", "team_leader")
    queue = client.get("/staff/?channel=letter").get_data(as_text=True)
    assert f"#{receipt.submission_id}" in queue and f"#{named.submission_id}" in queue


def test_each_note_from_a_box_is_its_own_letter(desk: Desk, officer: int, font: None) -> None:
    batch_id = new_batch(desk, "box", "东岭村村委会")
    add(desk, batch_id, "IMG_0001.jpg", jpeg(note("村会计把青苗补偿款扣下了一半，请查一查。")))
    add(desk, batch_id, "IMG_0002.jpg", jpeg(note("村主任的弟弟家有两辆小车还吃低保。")))
    letters.finish_batch(desk, batch_id)
    run_pending(desk)
    assert layout(desk, batch_id) == [["IMG_0001.jpg:1"], ["IMG_0002.jpg:1"]]
    first, _ = letter_ids(desk, batch_id)
    receipt = letters.submit_letter(desk, first, staff_id=officer, staff_label="officer")
    with desk.sessions() as session:
        item = session.get(m.Submission, receipt.submission_id)
        assert item is not None and item.channel == "box" and "青苗补偿款" in item.text
        assert [a.original_name for a in item.attachments] == ["附件1.jpg"]
        batch = session.get(m.ScanBatch, batch_id)
        assert batch is not None and batch.source_name == "东岭村村委会"


def test_grouping_operations_keep_letters_and_pages_in_dense_order(
        desk: Desk, officer: int) -> None:
    batch_id = new_batch(desk)
    for name, data in (("a.png", png()), ("b.png", png()),
                       ("c.pdf", pdf(*(Image.new("RGB", (60, 80), "white"),) * 3)),
                       ("d.png", png())):
        add(desk, batch_id, name, data)
    assert layout(desk, batch_id) == [["a.png:1"], ["b.png:1"], ["c.pdf:1", "c.pdf:2", "c.pdf:3"],
                                      ["d.png:1"]]
    pid = lambda name, n=1: page_id(desk, batch_id, name, n)  # noqa: E731

    letters.split_letter(desk, batch_id, pid("c.pdf", 2))
    assert layout(desk, batch_id) == [["a.png:1"], ["b.png:1"], ["c.pdf:1"],
                                      ["c.pdf:2", "c.pdf:3"], ["d.png:1"]]
    letters.merge_with_previous(desk, batch_id, letter_ids(desk, batch_id)[1])
    assert layout(desk, batch_id) == [["a.png:1", "b.png:1"], ["c.pdf:1"],
                                      ["c.pdf:2", "c.pdf:3"], ["d.png:1"]]
    letters.move_page(desk, batch_id, pid("c.pdf"), -1)  # across the edge; its letter empties
    assert layout(desk, batch_id) == [["a.png:1", "b.png:1", "c.pdf:1"],
                                      ["c.pdf:2", "c.pdf:3"], ["d.png:1"]]
    letters.move_page(desk, batch_id, pid("b.png"), 1)
    letters.move_page(desk, batch_id, pid("c.pdf", 3), 1)
    assert layout(desk, batch_id) == [["a.png:1", "c.pdf:1", "b.png:1"], ["c.pdf:2"],
                                      ["c.pdf:3", "d.png:1"]]
    with pytest.raises(letters.LetterError, match="已经是第一页"):
        letters.move_page(desk, batch_id, pid("a.png"), -1)
    with pytest.raises(letters.LetterError, match="已经是最后一页"):
        letters.move_page(desk, batch_id, pid("d.png"), 1)
    with pytest.raises(letters.LetterError, match="第一页"):
        letters.split_letter(desk, batch_id, pid("c.pdf", 2))
    with pytest.raises(letters.LetterError, match="第一封"):
        letters.merge_with_previous(desk, batch_id, letter_ids(desk, batch_id)[0])

    # Unread pages: regrouping falls back to the files, keeping the officer's page order.
    assert letters.regroup(desk, batch_id) == 5
    assert layout(desk, batch_id) == [["a.png:1"], ["c.pdf:1"], ["b.png:1"],
                                      ["c.pdf:2", "c.pdf:3"], ["d.png:1"]]

    # A saved text ties a letter to its pages; a submitted letter is closed.
    first, second, third, *_ = letter_ids(desk, batch_id)
    letters.save_text(desk, second, "对照原件录入的文字")
    with pytest.raises(letters.LetterError, match="恢复识别文字"):
        letters.merge_with_previous(desk, batch_id, third)
    letters.reset_text(desk, second)
    letters.merge_with_previous(desk, batch_id, third)
    with pytest.raises(letters.LetterError, match="正在识别"):
        letters.submit_letter(desk, first, staff_id=officer, staff_label="officer", text="第一封信")
    letters.submit_letter(desk, first, staff_id=officer, staff_label="officer", text="第一封信",
                          partial_ok=True)
    with pytest.raises(letters.LetterError, match="已提交"):
        letters.move_page(desk, batch_id, pid("c.pdf", 1), -1)
    with pytest.raises(letters.LetterError, match="已提交"):
        letters.regroup(desk, batch_id)
    assert layout(desk, batch_id)[0] == ["a.png:1"]


def test_unreadable_files_are_kept_shown_and_can_be_typed_in(
        app: Flask, desk: Desk, officer: int, font: None) -> None:
    batch_id = new_batch(desk, "box", "西坡村村委会")
    garbage = os.urandom(5000)
    whole = jpeg(note("这张照片传到一半断了。"))
    assert add(desk, batch_id, "note.jpg", garbage).error == letters.NOT_A_SCAN
    assert add(desk, batch_id, "broken.jpg", whole[: len(whole) // 2]).error == ""
    assert add(desk, batch_id, "empty.jpg", b"").pages == 0
    bad_pdf = add(desk, batch_id, "scan.pdf", b"%PDF-1.4\n" + os.urandom(3000))
    assert "无法打开 PDF" in bad_pdf.error and bad_pdf.pages == 1
    letters.finish_batch(desk, batch_id)
    assert run_pending(desk) == 1  # only the JPEG was worth a try
    statuses = {_file_name(desk, p.file_id): (p.ocr_status, p.ocr_error)
                for p in pages_of(desk, batch_id)}
    assert statuses["note.jpg"] == ("failed", letters.NOT_A_SCAN)
    # The OCR error names the file by its type, never by its uploaded name.
    assert statuses["broken.jpg"][0] == "failed" and "附件2.jpg" in statuses["broken.jpg"][1]
    assert "empty.jpg" not in statuses
    with desk.sessions() as session:
        files = {uploaded(desk, f): f for f in session.scalars(
            select(m.ScanFile).where(m.ScanFile.batch_id == batch_id))}
    assert set(files) == {"note.jpg", "broken.jpg", "empty.jpg", "scan.pdf"}
    assert [files[n].original_name for n in ("note.jpg", "broken.jpg", "empty.jpg", "scan.pdf")
            ] == ["附件1", "附件2.jpg", "附件3", "附件4.pdf"]
    assert b"".join(desk.files.read(files["note.jpg"].storage_name)) == garbage

    client = staff_client(app, desk, "officer2", "duty_officer")
    page = client.get(f"/staff/letters/batches/{batch_id}").get_data(as_text=True)
    for text in ("附件1", "附件2.jpg", "附件3", "空文件", "无法打开 PDF", "识别失败",
                 "图片文件已损坏或不完整"):
        assert text in page
    assert "note.jpg" not in page and "broken.jpg" not in page
    r = client.get(f"/staff/letters/files/{files['note.jpg'].id}")
    assert r.data == garbage and r.headers["Content-Type"] == "application/octet-stream"
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.AuditEvent)
                              .where(m.AuditEvent.action == "scan.download")) == 1

    # The officer reads the original and types it in; the original travels with the item.
    garbage_letter = next(lid for lid in letter_ids(desk, batch_id)
                          if layout_of_letter(desk, lid) == ["note.jpg:1"])
    receipt = letters.submit_letter(desk, garbage_letter, staff_id=officer,
                                    staff_label="officer", text="村里的路修了三年没修好。")
    with desk.sessions() as session:
        item = session.get(m.Submission, receipt.submission_id)
        assert item is not None
        assert [a.original_name for a in item.attachments] == ["附件1"]


def layout_of_letter(desk: Desk, letter_id: int) -> list[str]:
    with desk.sessions() as session:
        letter = session.get(m.ScanLetter, letter_id)
        assert letter is not None
        return [f"{uploaded(desk, p.file)}:{p.page_no}" for p in letter.pages]


def test_a_failing_engine_is_retried_then_waits_for_a_person(
        app: Flask, desk: Desk, font: None) -> None:
    batch_id = new_batch(desk, "box", "南河村村委会")
    add(desk, batch_id, "IMG_1.jpg", jpeg(note("低保评定没有张榜公示。")))
    letters.finish_batch(desk, batch_id)
    assert run_pending(desk, engine=BrokenEngine()) == 1
    assert run_pending(desk, engine=BrokenEngine()) == 0  # a failed try waits a while
    later, copies = m.utcnow(), PlainCopies(desk)
    for _ in range(desk.settings.ocr_max_attempts - 1):
        later += RETRY_AFTER + timedelta(seconds=1)
        claim = claim_page(desk, now=later)
        assert claim is not None
        read_page(desk, BrokenEngine(), copies, claim)
    copies.close()
    (page,) = pages_of(desk, batch_id)
    assert (page.ocr_status, page.ocr_attempts) == ("failed", desk.settings.ocr_max_attempts)
    assert page.ocr_error == "文字识别出错（RuntimeError），可重试。"
    assert run_pending(desk) == 0  # a failed page waits for a person

    client = staff_client(app, desk, "officer2", "duty_officer")
    path = f"/staff/letters/batches/{batch_id}"
    html = client.get(path).get_data(as_text=True)
    assert "识别失败" in html and "可重试" in html and f'value="retry:{page.id}"' in html
    r = client.post(path, data={"csrf_token": csrf_token(client, path),
                                "op": f"retry:{page.id}"})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"#p{page.id}")
    (page,) = pages_of(desk, batch_id)
    assert (page.ocr_status, page.ocr_attempts, page.ocr_error) == ("pending", 0, "")
    assert run_pending(desk) == 1
    (page,) = pages_of(desk, batch_id)
    assert page.ocr_status == "done" and "张榜公示" in page.ocr_text


def test_a_stale_claim_is_taken_over_and_its_late_result_dropped(desk: Desk) -> None:
    batch_id = new_batch(desk)
    add(desk, batch_id, "a.png", png())
    now = m.utcnow()
    stalled = claim_page(desk, now=now - timedelta(minutes=11))
    assert stalled is not None
    assert claim_page(desk, now=now - timedelta(minutes=5)) is None  # the lease still holds
    current = claim_page(desk, now=now)
    assert current is not None and current.page_id == stalled.page_id
    assert current.token != stalled.token
    copies = PlainCopies(desk)
    read_page(desk, FixedEngine("迟到的结果"), copies, stalled)
    (page,) = pages_of(desk, batch_id)
    assert (page.ocr_status, page.ocr_text) == ("running", "")
    read_page(desk, FixedEngine("当前的结果"), copies, current)
    (page,) = pages_of(desk, batch_id)
    assert (page.ocr_status, page.ocr_text, page.ocr_attempts) == ("done", "当前的结果", 2)
    copies.close()

    # A page whose worker keeps vanishing stops being claimed after the last attempt.
    add(desk, batch_id, "b.png", png("gray"))
    for minutes in (33, 22, 11):
        assert claim_page(desk, now=now - timedelta(minutes=minutes)) is not None
    assert claim_page(desk, now=now) is None
    page = pages_of(desk, batch_id)[-1]
    assert page.ocr_status == "failed" and "中断" in page.ocr_error


def test_the_worker_reads_in_the_background_after_an_upload(
        app: Flask, desk: Desk, font: None) -> None:
    idle = OcrWorker(replace(desk, settings=replace(desk.settings, ocr_workers=0)))
    idle.start()
    assert not idle._threads  # none configured, none started
    desk.settings = replace(desk.settings, ocr_workers=1)
    worker = OcrWorker(desk, poll_seconds=60)  # only `wake` gets it going this soon
    worker.start()
    app.extensions["ocr_worker"] = worker
    try:
        client = staff_client(app, desk, "officer2", "duty_officer")
        r = upload(client, [("IMG_9.jpg", jpeg(note("镇里的公车周末停在领导老家门口。")))])
        assert r.status_code == 303
        batch_id = int(r.headers["Location"].rsplit("/", 1)[1])
        deadline = time.monotonic() + 60
        while pages_of(desk, batch_id)[0].ocr_status != "done":
            assert time.monotonic() < deadline, "the worker did not read the page"
            time.sleep(0.2)
        assert "公车" in pages_of(desk, batch_id)[0].ocr_text
        progress = client.get(f"/staff/letters/batches/{batch_id}/progress").get_json()
        assert (progress["done"], progress["pending"], progress["complete"]) == (1, 0, True)
    finally:
        worker.stop()
    assert not worker._threads


def test_two_workers_read_every_page_exactly_once(desk: Desk) -> None:
    batch_id = new_batch(desk)
    for i in range(8):
        add(desk, batch_id, f"IMG_{i}.png", png(size=(60 + i, 80)))
    letters.finish_batch(desk, batch_id)
    seen: list[tuple[int, int]] = []

    class Counting:
        def read_image(self, image: Image.Image) -> PageText:
            seen.append(image.size)
            time.sleep(0.05)
            return PageText("纸条", 0.9, 0.05, 0, 0.0)

    desk.settings = replace(desk.settings, ocr_workers=2)
    worker = OcrWorker(desk, engine=Counting(), poll_seconds=0.1)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while any(p.ocr_status != "done" for p in pages_of(desk, batch_id)):
            assert time.monotonic() < deadline, "the workers did not finish"
            time.sleep(0.1)
    finally:
        worker.stop()
    assert sorted(seen) == [(60 + i, 80) for i in range(8)]


# --- the web pages --------------------------------------------------------------------------


def upload(client: FlaskClient, files: list[tuple[str, bytes]], *, token: str | None = "",
           fields: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Any:
    """POST a batch as a browser sends it: the fields first, then the files."""
    if token == "":
        token = csrf_token(client, "/staff/letters/upload")
    values = {"source": "box", "box": "东岭村村委会", "opened_at": "2026-03-09T08:30",
              "note": "与村监委共同开箱", **(fields or {})}
    if token is not None:
        values = {"csrf_token": token, **values}
    body, ctype = multipart(list(values.items()), files)
    # Our own encoding: Werkzeug's spools a large body to a file it leaves open, and writes an
    # empty field in a form that browsers never send.
    return client.post("/staff/letters/upload", data=body, content_type=ctype,
                       headers=headers or {})


def batches(desk: Desk) -> list[m.ScanBatch]:
    with desk.sessions() as session:
        return list(session.scalars(select(m.ScanBatch).order_by(m.ScanBatch.id)))


def test_an_upload_streams_every_file_into_a_batch(app: Flask, desk: Desk) -> None:
    client = staff_client(app, desk, "officer", "duty_officer")
    form = client.get("/staff/letters/upload").get_data(as_text=True)
    assert "东岭村村委会" in form and "青山镇邮政专用信箱 01 号" in form
    big = noise_png(1900)  # with the others, more than the app's own body limit
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    files = [("IMG_0001.png", png()), ("IMG_0002.png", png("gray")), ("photo.png", big),
             ("scan.pdf", pdf(*(Image.new("RGB", (60, 80), "white"),) * 2))]
    r = upload(client, files)
    assert r.status_code == 303, r.get_data(as_text=True)
    (batch,) = batches(desk)
    assert r.headers["Location"] == f"/staff/letters/batches/{batch.id}"
    assert (batch.source, batch.source_name, batch.opened_at, batch.complete) == (
        "box", "东岭村村委会", OPENED, True)
    assert batch.note == "与村监委共同开箱" and batch.uploaded_by is not None
    with desk.sessions() as session:
        stored = list(session.scalars(select(m.ScanFile).order_by(m.ScanFile.seq)))
    assert [(uploaded(desk, f), f.error) for f in stored] == [(n, "") for n, _ in files]
    for f, (_, content) in zip(stored, files, strict=True):
        assert b"".join(desk.files.read(f.storage_name)) == content
    assert len(pages_of(desk, batch.id)) == 5

    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "已收到 4 个文件，共 5 页" in html and "待识别" in html and "上传中断" not in html
    assert html.count('class="page pending"') == 5
    image = client.get(f"/staff/letters/pages/{pages_of(desk, batch.id)[0].id}/image?w=240")
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
    assert image.headers["Cache-Control"] == "no-store"
    assert Image.open(io.BytesIO(image.data)).width <= 240
    index = client.get("/staff/letters/").get_data(as_text=True)
    assert "还有 1 个批次没有处理完" in index and "5 页待识别" in index


def test_the_upload_checks_its_csrf_token_before_storing_anything(
        app: Flask, desk: Desk) -> None:
    client = staff_client(app, desk, "officer", "duty_officer")
    files = [("IMG_0001.png", png())]
    assert upload(client, files, token=None).status_code == 400
    assert upload(client, files, token="forged").status_code == 400
    assert batches(desk) == []
    assert not list((desk.settings.data_dir / "attachments").glob("??/??/*"))

    # The page's script sends the token in a header and asks for JSON.
    token = csrf_token(client, "/staff/letters/upload")
    r = upload(client, files, token=None,
               headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert r.status_code == 200
    assert r.get_json()["batch_url"].startswith("/staff/letters/batches/")
    assert len(batches(desk)) == 1

    # A garbled body is refused, not a server error.
    r = client.post("/staff/letters/upload", data=b"\x00garbage" * 100,
                    content_type="multipart/form-data; boundary=xyz",
                    headers={"X-CSRFToken": token})
    assert r.status_code == 400 and len(batches(desk)) == 1

    # A token that only follows the files comes too late.
    body, ctype = multipart([("source", "box"), ("box", "东岭村村委会"),
                             ("opened_at", "2026-03-09T08:30")],
                            [("IMG.png", png())], trailing=(("csrf_token", token),))
    r = client.post("/staff/letters/upload", data=body, content_type=ctype)
    assert r.status_code == 400 and len(batches(desk)) == 1


def test_bad_batch_fields_are_told_in_chinese(app: Flask, desk: Desk) -> None:
    client = staff_client(app, desk, "officer", "duty_officer")
    r = upload(client, [("a.png", png())], fields={"box": "不存在的箱子"})
    assert r.status_code == 400 and "请选择开启的是哪个意见箱" in r.get_data(as_text=True)
    r = upload(client, [("a.png", png())], fields={"opened_at": "2099-01-01T08:00"})
    assert "不能晚于现在" in r.get_data(as_text=True)
    r = upload(client, [])
    assert r.status_code == 400 and "请选择要上传" in r.get_data(as_text=True)
    r = upload(client, [("a.png", png())], fields={"source": "postal", "box": ""})
    assert r.status_code == 303
    assert batches(desk)[0].source_name == "青山镇邮政专用信箱 01 号"


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, bytes]],
              trailing: tuple[tuple[str, str], ...] = ()) -> tuple[bytes, str]:
    boundary = "----letters-test-boundary"
    out = io.BytesIO()
    for name, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                  f"{value}\r\n".encode())
    for name, content in files:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                  f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                  .encode())
        out.write(content + b"\r\n")
    for name, value in trailing:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                  f"{value}\r\n".encode())
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def test_limits_and_a_broken_upload_keep_what_arrived(app: Flask, desk: Desk) -> None:
    client = staff_client(app, desk, "officer", "duty_officer")
    desk.settings = replace(desk.settings, scan_max_file_bytes=100_000)
    r = upload(client, [("a.png", png()), ("huge.png", noise_png(250)), ("b.png", png("gray"))])
    assert r.status_code == 303
    with desk.sessions() as session:
        rows = [(uploaded(desk, f), bool(f.storage_name), f.error) for f in session.scalars(
            select(m.ScanFile).order_by(m.ScanFile.id))]
    assert [(n, kept) for n, kept, _ in rows] == [("a.png", True), ("huge.png", False),
                                                  ("b.png", True)]
    assert "超过 97 KB 的上限" in rows[1][2]
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "未能保存" in html and "附件2" in html and "huge.png" not in html

    # The connection drops in the middle of the second file.
    token = csrf_token(client, "/staff/letters/upload")
    body, ctype = multipart([("csrf_token", token), ("source", "postal"),
                             ("opened_at", "2026-03-10T09:00")],
                            [("first.png", png()), ("second.png", noise_png(100))])
    cut = body.index(b"second.png") + 5000
    r = client.post("/staff/letters/upload", input_stream=io.BytesIO(body[:cut]),
                    content_type=ctype, headers={"Content-Length": str(len(body))})
    batch = batches(desk)[-1]
    assert not batch.complete
    with desk.sessions() as session:
        rows = [(uploaded(desk, f), bool(f.storage_name), f.error) for f in session.scalars(
            select(m.ScanFile).where(m.ScanFile.batch_id == batch.id).order_by(m.ScanFile.id))]
    assert rows == [("first.png", True, ""),
                    ("second.png", False, "上传中断，此文件未完整收到，请重新上传。")]
    html = client.get(f"/staff/letters/batches/{batch.id}").get_data(as_text=True)
    assert "上传中断" in html and "附件1.png" in html
    assert "上传中断" in client.get("/staff/letters/").get_data(as_text=True)

    # A batch over its limit is refused before a byte is read.
    desk.settings = replace(desk.settings, scan_max_batch_bytes=50_000)
    r = upload(client, [("huge.png", noise_png(200))])
    assert r.status_code == 413
    assert "一次上传的文件合计不能超过" in r.get_data(as_text=True)
    assert len(batches(desk)) == 2


def test_batch_page_edits_and_the_review_page(app: Flask, desk: Desk) -> None:
    client = staff_client(app, desk, "officer", "duty_officer")
    r = upload(client, [("a.png", png()), ("b.png", png("gray")), ("c.png", png("black"))])
    batch_path = r.headers["Location"]
    batch_id = int(batch_path.rsplit("/", 1)[1])
    token = csrf_token(client, batch_path)
    first, second, _ = letter_ids(desk, batch_id)
    r = client.post(batch_path, data={"csrf_token": token, "op": f"merge:{second}"})
    b = page_id(desk, batch_id, "b.png")
    assert r.status_code == 303 and r.headers["Location"].endswith(f"#p{b}")
    assert layout(desk, batch_id) == [["a.png:1", "b.png:1"], ["c.png:1"]]
    client.post(batch_path, data={"csrf_token": token, "op": f"up:{b}"})
    a = page_id(desk, batch_id, "a.png")
    client.post(batch_path, data={"csrf_token": token, "op": f"split:{a}"})
    assert layout(desk, batch_id) == [["b.png:1"], ["a.png:1"], ["c.png:1"]]
    r = client.post(batch_path, data={"csrf_token": token, "op": f"up:{b}"}, follow_redirects=True)
    assert "已经是第一页" in r.get_data(as_text=True)
    assert client.post(batch_path, data={"csrf_token": token, "op": "bogus"}).status_code == 400
    assert client.post(batch_path, data={"op": f"down:{b}"}).status_code == 400  # no token

    # Review: the text is typed against the image, saved, then submitted with the signer.
    path = f"/staff/letters/letters/{first}"
    page = client.get(path).get_data(as_text=True)
    assert 'name="text"' in page and "下一封待提交" in page
    assert f"/staff/letters/pages/{b}/image" in page
    token = csrf_token(client, path)
    r = client.post(path, data={"csrf_token": token, "action": "submit", "text": "来信"})
    assert r.status_code == 409 and "正在识别" in r.get_data(as_text=True)  # OCR not done
    r = client.post(path, data={"csrf_token": token, "action": "submit", "text": "  ",
                                "complete": "1"})
    assert r.status_code == 409 and "信件内容为空" in r.get_data(as_text=True)
    r = client.post(path, data={"csrf_token": token, "action": "save",
                                "text": "镇财政所长收购物卡。"})
    assert r.status_code == 303 and "镇财政所长收购物卡" in client.get(path).get_data(as_text=True)
    r = client.post(path, data={"csrf_token": token, "action": "submit",
                                "text": "镇财政所长收购物卡，请查处。", "signer_name": "王某",
                                "signer_phone": "13800000000", "complete": "1"})
    assert r.status_code == 303
    assert r.headers["Location"] == f"/staff/letters/letters/{letter_ids(desk, batch_id)[1]}"
    with desk.sessions() as session:
        letter = session.get_one(m.ScanLetter, first)
        item = session.get_one(m.Submission, letter.submission_id)
        assert item.channel == "box" and not item.anonymous
        assert item.text == "镇财政所长收购物卡，请查处。"
    again = client.post(path, data={"csrf_token": token, "action": "submit", "text": "再来"})
    assert again.status_code == 409 and "不能重复提交" in again.get_data(as_text=True)
    assert "已提交为" in client.get(path).get_data(as_text=True)
    progress = client.get(f"/staff/letters/batches/{batch_id}/progress").get_json()
    assert progress["pending"] == 3 and len(progress["pages"]) == 3


def test_only_the_duty_desk_may_handle_letters(app: Flask, desk: Desk) -> None:
    client = staff_client(app, desk, "triager", "triager")
    for path in ("/staff/letters/", "/staff/letters/upload"):
        assert client.get(path).status_code == 403
    r = client.post("/staff/letters/upload", data=b"x",
                    content_type="multipart/form-data; boundary=x")
    assert r.status_code == 403
    leader = staff_client(app, desk, "leader", "team_leader")
    assert leader.get("/staff/letters/").status_code == 200


def test_the_batch_list_counts_progress(app: Flask, desk: Desk, officer: int) -> None:
    batch_id = new_batch(desk, "box", "北山社区服务中心")
    add(desk, batch_id, "a.png", png())
    add(desk, batch_id, "b.png", png("gray"))
    letters.finish_batch(desk, batch_id)
    run_pending(desk, engine=FixedEngine(""))
    first, _ = letter_ids(desk, batch_id)
    letters.submit_letter(desk, first, staff_id=officer, staff_label="officer", text="来信")
    (summary,) = letters.batch_summaries(desk)
    assert (summary.pages, summary.done, summary.pending, summary.letters, summary.submitted) == (
        2, 2, 0, 2, 1)
    assert summary.work_left
    client = staff_client(app, desk, "officer2", "duty_officer")
    html = client.get("/staff/letters/").get_data(as_text=True)
    assert re.search(r"1 / 2 封", html) and "1 封待提交" in html


def test_plain_copies_are_reused_and_removed(desk: Desk) -> None:
    batch_id = new_batch(desk)
    add(desk, batch_id, "a.png", png())
    with desk.sessions() as session:
        f = session.scalar(select(m.ScanFile))
        assert f is not None
    copies = PlainCopies(desk, keep=1)
    with copies.path(f.storage_name, f.original_name) as first:
        assert first.name == "附件1.png" and first.read_bytes() == png()
    with copies.path(f.storage_name, f.original_name) as again:
        assert again == first  # decrypted once
    copies.close()
    assert not Path(first).exists()

    # Left alone, an idle copy still goes: nobody has to ask for another file.
    idle = PlainCopies(desk, idle=0.2)
    with idle.path(f.storage_name, f.original_name) as plain:
        assert plain.exists()
    deadline = time.monotonic() + 10
    while plain.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not plain.exists()


def test_text_typed_against_other_pages_is_refused(desk: Desk, officer: int) -> None:
    batch_id = new_batch(desk, "box", "北山社区服务中心")
    add(desk, batch_id, "a.png", png())
    add(desk, batch_id, "b.png", png("gray"))
    letters.finish_batch(desk, batch_id)
    run_pending(desk, engine=FixedEngine(""))
    first, second = letter_ids(desk, batch_id)
    seen = [p for (p,) in _page_ids(desk, first)]
    letters.merge_with_previous(desk, batch_id, second)  # meanwhile: the pages changed
    for act in (lambda: letters.save_text(desk, first, "对照原件录入", expected_pages=seen),
                lambda: letters.submit_letter(desk, first, staff_id=officer,
                                              staff_label="officer", text="对照原件录入",
                                              expected_pages=seen)):
        with pytest.raises(letters.LetterError, match="重新分组"):
            act()
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.Submission)) == 0


def test_a_signers_name_and_number_are_sealed_and_hidden_in_the_text(
        desk: Desk, officer: int) -> None:
    batch_id = new_batch(desk, "postal", "")
    add(desk, batch_id, "a.png", png())
    letters.finish_batch(desk, batch_id)
    run_pending(desk, engine=FixedEngine(""))
    (first,) = letter_ids(desk, batch_id)
    text = "反映村支书截留补偿款。\n反映人：王建国  电话：139 0571 2846"
    receipt = letters.submit_letter(desk, first, staff_id=officer, staff_label="officer",
                                    text=text, signer=letters.Signer("王建国", "13905712846"))
    with desk.sessions() as session:
        item = session.get_one(m.Submission, receipt.submission_id)
        assert "王建国" not in item.text and "2846" not in item.text
        assert "［姓名已隐去］" in item.text and "［电话已隐去］" in item.text
        assert not item.anonymous and item.identity_sealed is not None


def _page_ids(desk: Desk, letter_id: int) -> list[tuple[int]]:
    with desk.sessions() as session:
        return [(p.id,) for p in session.scalars(
            select(m.ScanPage).where(m.ScanPage.letter_id == letter_id)
            .order_by(m.ScanPage.position))]


def test_a_multi_page_tiff_is_every_one_of_its_pages(desk: Desk) -> None:
    frames = [Image.new("RGB", (60, 80), c) for c in ("white", "gray", "black")]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:])
    batch_id = new_batch(desk, "postal", "")
    added = add(desk, batch_id, "fax.tif", buf.getvalue())
    assert added.pages == 3
    copies = PlainCopies(desk)
    with desk.sessions() as session:
        f = session.scalars(select(m.ScanFile)).one()
    shades = []
    for page_no in (1, 2, 3):
        jpeg = page_jpeg(copies, f, page_no, 0, 60)
        shades.append(Image.open(io.BytesIO(jpeg)).convert("L").getpixel((30, 40)))
    assert shades[0] > shades[1] > shades[2]
    copies.close()


# --- Two teams, each with its round: a batch is filed under its box's round ----------------


def test_a_batch_from_a_box_of_round_b_files_its_letters_under_round_b(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    round_a, round_b = first_round(desk), add_round(desk, tmp_path)
    both = team_client(app, desk, "officer", "duty_officer", (TEAM_A, TEAM_B))
    form = both.get("/staff/letters/upload").get_data(as_text=True)
    box_b = letters.Box(round_b.id, round_b.slug, round_b.cfg.name, "box", BOXES_B[1])
    assert f'<optgroup label="{round_a.cfg.name}">' in form
    assert f'<optgroup label="{round_b.cfg.name}">' in form
    assert f'value="{box_b.key}"' in form
    assert f"意见箱：{BOXES_B[1]}（{round_b.cfg.name}）" in form
    assert f"邮政信箱：{POSTAL_B}（{round_b.cfg.name}）" in form
    assert "邮政信箱：青山镇邮政专用信箱 01 号" in form

    r = upload(both, [("a.png", png()), ("b.png", png("gray"))],
               fields={"source": "", "box": box_b.key})
    assert r.status_code == 303, r.get_data(as_text=True)
    (batch,) = batches(desk)
    assert (batch.round_id, batch.source, batch.source_name) == (round_b.id, "box", BOXES_B[1])
    assert round_b.cfg.name in both.get(r.headers["Location"]).get_data(as_text=True)
    listing = both.get("/staff/letters/").get_data(as_text=True)
    assert f'<td class="round">{round_b.cfg.name}</td>' in listing

    user_id = create_user(desk, "officer_b", "duty_officer", password="long-enough-pw",
                          teams=(TEAM_B,))[0].id
    first, second = letter_ids(desk, batch.id)
    letters.submit_letter(desk, first, staff_id=user_id, staff_label="officer_b",
                          text="河西乡干部收受红包。", partial_ok=True)
    page = both.get(f"/staff/letters/letters/{second}")
    token = csrf_token(both, f"/staff/letters/letters/{second}")
    assert page.status_code == 200
    r = both.post(f"/staff/letters/letters/{second}", data={
        "csrf_token": token, "action": "submit", "text": "柳湾村账目不公开。", "complete": "1"})
    assert r.status_code == 303, r.get_data(as_text=True)
    with desk.sessions() as session:
        items = list(session.scalars(select(m.Submission).order_by(m.Submission.id)))
    assert [(i.channel, i.round_id) for i in items] == [("box", round_b.id)] * 2

    # The other team neither sees the batch nor its letters.
    officer_a = team_client(app, desk, "officer_a", "duty_officer", (TEAM_A,))
    assert "第 1 批" not in officer_a.get("/staff/letters/").get_data(as_text=True)
    assert officer_a.get(f"/staff/letters/batches/{batch.id}").status_code == 404


def test_the_post_of_one_round_among_several_is_chosen_with_its_round(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    round_b = add_round(desk, tmp_path)
    both = team_client(app, desk, "officer", "duty_officer", (TEAM_A, TEAM_B))
    r = upload(both, [("a.png", png())], fields={"source": "postal", "box": ""})
    assert r.status_code == 400 and "几个轮次都有" in r.get_data(as_text=True)
    r = upload(both, [("a.png", png())], fields={"source": "postal", "box": "",
                                                 "round": round_b.slug})
    assert r.status_code == 303
    (batch,) = batches(desk)
    assert (batch.round_id, batch.source_name) == (round_b.id, POSTAL_B)


def test_a_box_of_another_teams_round_is_refused(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    round_b = add_round(desk, tmp_path)
    officer_a = team_client(app, desk, "officer_a", "duty_officer", (TEAM_A,))
    form = officer_a.get("/staff/letters/upload").get_data(as_text=True)
    assert BOXES_B[0] not in form and POSTAL_B not in form and "<optgroup" not in form
    key_b = letters.Box(round_b.id, round_b.slug, round_b.cfg.name, "box", BOXES_B[0]).key
    for fields, message in (
            ({"source": "", "box": key_b}, "不属于您所在巡察组受理中的轮次"),
            ({"source": "box", "box": BOXES_B[0]}, "请选择开启的是哪个意见箱"),
            ({"source": "postal", "box": "", "round": round_b.slug},
             "不属于您所在巡察组受理中的轮次")):
        r = upload(officer_a, [("a.png", png())], fields=fields)
        assert r.status_code == 400 and message in r.get_data(as_text=True), fields
    assert batches(desk) == []
