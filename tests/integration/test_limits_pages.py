"""Pages per file and per batch, counted from the real page tree before any row is written,
and public reports answered while a hostile batch is uploaded."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import func, select

from handlers.web import create_app
from intake import letters
from intake.desk import Desk, open_desk
from intake.settings import Settings
from intake.store import models as m
from tests.hostile import lying_pdf, tiff

OPENED = datetime(2026, 3, 9, 0, 30, tzinfo=UTC)


def new_batch(desk: Desk) -> int:
    return letters.create_batch(desk, source="postal", box="", opened_at=OPENED, note="",
                                staff_id=None)


def add(desk: Desk, batch_id: int, name: str, data: bytes) -> letters.AddedFile:
    return letters.add_file(desk, batch_id, name, io.BytesIO(data))


def page_rows(desk: Desk, batch_id: int) -> list[tuple[int, int]]:
    with desk.sessions() as session:
        return [(p.file_id, p.page_no) for p in session.scalars(
            select(m.ScanPage).where(m.ScanPage.batch_id == batch_id)
            .order_by(m.ScanPage.file_id, m.ScanPage.page_no))]


def file_row(desk: Desk, file_id: int) -> m.ScanFile:
    with desk.sessions() as session:
        return session.get_one(m.ScanFile, file_id)


def real_pdf(pages: int) -> bytes:
    images = [Image.new("RGB", (200, 280), "white") for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return out.getvalue()


@pytest.fixture
def small_limits(settings: Settings) -> Settings:
    return replace(settings, scan_max_file_pages=5, scan_max_batch_pages=8)


def test_a_pdf_declaring_a_million_pages_is_kept_with_an_error_and_no_page_rows(
        desk: Desk) -> None:
    hostile = lying_pdf(declared=1_000_000, real=1)
    assert len(hostile) < 400
    batch_id = new_batch(desk)
    started = time.perf_counter()
    refused = add(desk, batch_id, "百万页.pdf", hostile)
    assert time.perf_counter() - started < 5
    assert refused.pages == 0
    assert "声明有 1000000 页（实际只有 1 页）" in refused.error
    assert "超过每个文件 500 页的上限" in refused.error and "原件已保存" in refused.error
    row = file_row(desk, refused.file_id)
    assert row.storage_name and row.error == refused.error  # kept, listed with its error
    assert b"".join(desk.files.read(row.storage_name)) == hostile
    # Many real pages behind the lie: counted only up to the limit, refused the same way.
    many = add(desk, batch_id, "六百页.pdf", lying_pdf(declared=1_000_000, real=600))
    assert many.pages == 0 and many.error.startswith("PDF 文件超过每个文件 500 页")
    assert page_rows(desk, batch_id) == []
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.ScanLetter)) == 0


def test_the_real_page_tree_decides_within_the_limit(desk: Desk) -> None:
    batch_id = new_batch(desk)
    three = add(desk, batch_id, "三页.pdf", real_pdf(3))
    assert (three.pages, three.error) == (3, "")
    liar = add(desk, batch_id, "号称七页.pdf", lying_pdf(declared=7, real=4))
    assert (liar.pages, liar.error) == (4, "")
    assert page_rows(desk, batch_id) == [
        *((three.file_id, n) for n in (1, 2, 3)), *((liar.file_id, n) for n in (1, 2, 3, 4))]


def test_pages_per_file_and_per_batch(small_limits: Settings) -> None:
    desk = open_desk(small_limits)
    try:
        batch_id = new_batch(desk)
        too_long = add(desk, batch_id, "六页.pdf", real_pdf(6))
        assert too_long.pages == 0 and "每个文件 5 页" in too_long.error
        fax = add(desk, batch_id, "传真.tif", tiff(6))
        assert fax.pages == 0 and "TIFF 图片超过每个文件 5 页" in fax.error
        first = add(desk, batch_id, "五页.pdf", real_pdf(5))
        assert (first.pages, first.error) == (5, "")
        second = add(desk, batch_id, "四页.pdf", real_pdf(4))  # 5 + 4 > 8
        assert second.pages == 0
        assert "本批次已有 5 页" in second.error and "每批 8 页" in second.error
        third = add(desk, batch_id, "三页.tif", tiff(3))  # 5 + 3 = 8: still fits
        assert (third.pages, third.error) == (3, "")
        rows = page_rows(desk, batch_id)
        assert len(rows) == 8
        assert {f for f, _ in rows} == {first.file_id, third.file_id}
        for refused in (too_long, fax, second):
            assert file_row(desk, refused.file_id).storage_name  # kept, never dropped
        summary = next(s for s in letters.batch_summaries(desk) if s.batch.id == batch_id)
        assert summary.file_errors == 3
    finally:
        desk.close()


def test_a_large_file_is_written_in_chunks_of_pages(desk: Desk) -> None:
    big = replace(desk, settings=replace(desk.settings, scan_max_file_pages=1000))
    batch_id = new_batch(big)
    added = add(big, batch_id, "长信.pdf", lying_pdf(declared=1, real=2 * letters.PAGE_CHUNK + 7))
    assert added.pages == 2 * letters.PAGE_CHUNK + 7
    rows = page_rows(big, batch_id)
    assert [n for _, n in rows] == list(range(1, added.pages + 1))
    with big.sessions() as session:
        letter_ids = set(session.scalars(select(m.ScanPage.letter_id).where(
            m.ScanPage.batch_id == batch_id)))
        assert len(letter_ids) == 1 and None not in letter_ids


def test_public_reports_are_answered_while_a_hostile_batch_is_uploaded(
        settings: Settings) -> None:
    """On SQLite: one thread uploads a batch of PDFs at the page limits (and one declaring a
    million pages), another sends public reports; none waits more than a couple of seconds."""
    if not settings.effective_database_url.startswith("sqlite"):
        pytest.skip("the write lock that matters is SQLite's")
    settings = replace(settings, pow_threshold=10_000)  # one address, many reports: no work
    desk = open_desk(settings)
    app: Flask = create_app(settings, desk=desk)
    per_file = settings.scan_max_file_pages
    files = [("百万页.pdf", lying_pdf(1_000_000, real=1))]
    files += [(f"满页{i}.pdf", lying_pdf(declared=per_file, real=per_file))
              for i in range(settings.scan_max_batch_pages // per_file - 1)]
    done = threading.Event()
    upload_errors: list[BaseException] = []

    def upload() -> None:
        try:
            batch_id = new_batch(desk)
            for name, data in files:
                add(desk, batch_id, name, data)
            letters.finish_batch(desk, batch_id)
        except BaseException as exc:  # reported by the main thread
            upload_errors.append(exc)
        finally:
            done.set()

    uploader = threading.Thread(target=upload)
    client = app.test_client()
    latencies: list[float] = []
    try:
        uploader.start()
        while not done.is_set() or len(latencies) < 3:
            started = time.perf_counter()
            response = client.post("/api/v1/reports", json={
                "text": "镇长插手工程让他亲戚中标。", "password": "long-enough-1"})
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 201, response.get_data(as_text=True)
        uploader.join()
        assert not upload_errors, upload_errors
        with desk.sessions() as session:
            pages = session.scalar(select(func.count()).select_from(m.ScanPage))
    finally:
        done.wait(60)
        desk.close()
    assert pages == settings.scan_max_batch_pages - per_file  # the liar has none
    assert len(latencies) >= 3
    print(f"reports {len(latencies)}, slowest {max(latencies):.3f} s")
    assert max(latencies) < 2.5, sorted(latencies)[-5:]
