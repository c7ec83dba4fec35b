"""Decompression bombs: every place an image is decoded refuses one with a Chinese message."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from intake import decodelimits, letters, ocr
from intake.desk import Desk
from intake.ocrworker import PlainCopies, page_jpeg, run_pending
from intake.store import models as m
from tests.hostile import png_bomb
from tests.support import staff_client

OPENED = datetime(2026, 3, 9, 0, 30, tzinfo=UTC)
BOMBS = {
    # past Pillow's own backstop (it raises DecompressionBombError, which we translate)
    "pillow": (100_000, 100_000),
    # under Pillow's backstop: only our limit stands between it and 1.6 GB of pixels
    "ours": (40_000, 40_000),
}


class NeverEngine:
    def read_image(self, image: Image.Image) -> ocr.PageText:
        raise AssertionError("a refused image must never reach the engine")


@pytest.mark.parametrize("kind", BOMBS)
def test_ocr_and_preview_refuse_a_bomb_with_a_chinese_message(kind: str, tmp_path: Path,
                                                              desk: Desk) -> None:
    path = tmp_path / "炸弹.png"
    path.write_bytes(png_bomb(*BOMBS[kind]))
    with pytest.raises(ocr.OcrInputError, match="图片尺寸过大"):
        ocr.open_page_image(path)
    with (pytest.raises(decodelimits.DecodeLimitError, match="图片尺寸过大"),
          decodelimits.open_image(path, path.name)):
        pass
    assert decodelimits.image_frames(path, stop_after=10) == 1


@pytest.mark.parametrize("kind", BOMBS)
def test_an_uploaded_bomb_is_kept_with_its_error_and_never_decoded(
        kind: str, desk: Desk, app: Flask) -> None:
    batch_id = letters.create_batch(desk, source="postal", box="", opened_at=OPENED, note="",
                                    staff_id=None)
    data = png_bomb(*BOMBS[kind])
    added = letters.add_file(desk, batch_id, "炸弹.png", io.BytesIO(data))
    assert added.pages == 1 and "图片尺寸过大" in added.error
    with desk.sessions() as session:
        page = session.scalars(select(m.ScanPage).where(m.ScanPage.batch_id == batch_id)).one()
        file = session.get_one(m.ScanFile, added.file_id)
    assert (page.ocr_status, page.ocr_error) == ("failed", added.error)
    assert run_pending(desk, engine=NeverEngine()) == 0  # OCR never tries it

    # The preview: the core says why, the page image answers 404 (the page shows the error).
    copies = PlainCopies(desk)
    try:
        with pytest.raises(ocr.OcrInputError, match="图片尺寸过大"):
            page_jpeg(copies, file, 1, 0, 240)
    finally:
        copies.close()
    client = staff_client(app, desk, "officer", "duty_officer")
    assert client.get(f"/staff/letters/pages/{page.id}/image?w=240").status_code == 404
    batch_page = client.get(f"/staff/letters/batches/{batch_id}").get_data(as_text=True)
    assert "图片尺寸过大" in batch_page


def test_a_jpeg_within_the_limit_only_at_reduced_scale_is_still_read(tmp_path: Path) -> None:
    """A header over MAX_PIXELS is fine for a JPEG that draft() decodes at 1/8 scale."""
    side = 11_000  # 121 Mpx: over the limit at full scale
    path = tmp_path / "大照片.jpg"
    Image.new("L", (side, side), 255).save(path, "JPEG", quality=10)
    image = ocr.open_page_image(path)  # decoded at 1/2: 30 Mpx
    assert image.width * image.height <= decodelimits.MAX_PIXELS and image.width < side
    jpeg = io.BytesIO()
    with decodelimits.open_image(path, path.name) as opened:
        opened.draft("RGB", (240, 240))
        decodelimits.check_pixels(opened, path.name)
        opened.convert("RGB").save(jpeg, "JPEG")
    assert Image.open(jpeg).width == side // 8  # the smallest decode JPEG offers


def test_pdf_pages_render_within_a_bounded_size(tmp_path: Path) -> None:
    """A page declaring a huge media box is rendered at most RENDER_MAX_SIDE px long."""
    from tests.hostile import lying_pdf

    huge = lying_pdf(declared=1, real=1).replace(b"[0 0 200 280]", b"[0 0 14400 14400]")
    huge = _fix_xref(huge)
    path = tmp_path / "巨幅.pdf"
    path.write_bytes(huge)
    image = ocr.render_pdf_page(path, 1, dpi=600)
    assert max(image.size) <= ocr.RENDER_MAX_SIDE


def _fix_xref(pdf: bytes) -> bytes:
    """Recompute the xref offsets of a one-revision PDF after an edit."""
    body, _, _ = pdf.partition(b"xref\n")
    offsets = [mt.start() for mt in re.finditer(rb"(?m)^\d+ 0 obj", body)]
    xref = b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    xref += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return body + xref + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(offsets) + 1, len(body))


def test_a_tiff_frame_is_checked_when_it_is_reached(tmp_path: Path) -> None:
    from intake.ocrworker import _open_preview
    from tests.hostile import tiff_with_huge_frame

    path = tmp_path / "传真.tif"
    path.write_bytes(tiff_with_huge_frame())
    assert ocr.open_page_image(path, 1).size == (40, 60)
    with pytest.raises(ocr.OcrInputError, match="图片尺寸过大"):
        ocr.open_page_image(path, 2)
    assert _open_preview(path, 1, 240).size == (40, 60)
    with pytest.raises(ocr.OcrInputError, match="图片尺寸过大"):
        _open_preview(path, 2, 240)
