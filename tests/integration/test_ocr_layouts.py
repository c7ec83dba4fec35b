"""OCR beyond one printed column, with the real models: two-column pages read column by
column, 12 MP phone photos with an EXIF orientation, vertical writing (竖排), screen
captures; and `intake ocr` with the network cut off.

Character accuracy as in test_ocr_accuracy.py. Run with `pytest -s` to see the figures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from intake import ocr
from intake.ocr import OcrEngine, PageText, get_engine, open_page_image
from tests import ocr_letters as L

L.require_font()

MIN_ACCURACY = 0.90


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return get_engine()


def read(engine: OcrEngine, name: str, image: Image.Image, expected: str
         ) -> tuple[PageText, float]:
    page = engine.read_image(image)
    accuracy = L.char_accuracy(expected, page.text)
    print(f"\n{name}: accuracy {accuracy:.4f}, {page.seconds:.2f} s, rotation {page.rotation}, "
          f"vertical {page.vertical}")
    return page, accuracy


def in_order(text: str, *phrases: str) -> bool:
    """Whether the phrases occur in the text, in this order (whitespace ignored)."""
    flat = "".join(text.split())
    at = [flat.find(phrase) for phrase in phrases]
    return all(i >= 0 for i in at) and at == sorted(at)


@pytest.mark.parametrize("stagger", [False, True], ids=["rows aligned", "rows staggered"])
def test_two_column_page_reads_column_by_column(engine: OcrEngine, stagger: bool) -> None:
    image, expected = L.render_columns(L.LETTERS[0], L.LETTERS[2], 26, stagger=stagger)
    page, accuracy = read(engine, f"two columns, stagger={stagger}", image, expected)
    assert accuracy >= MIN_ACCURACY
    # the title first, then the left column to its end, then the right column
    assert in_order(page.text, "巡察工作简报", "尊敬的省委巡视组", "我是青石镇杨柳村村民王建国",
                    "还村民一个公道", "巡视组同志", "刹住这股歪风")
    assert page.rotation == 0 and not page.vertical


def test_single_column_letter_reads_as_before(engine: OcrEngine) -> None:
    image, expected = L.render_letter(L.LETTERS[3], 32)
    page, accuracy = read(engine, "single column", image, expected)
    assert accuracy >= 0.97
    assert page.text.splitlines()[0] == "关于征地补偿款被截留的情况反映"


@pytest.mark.parametrize("orientation", [6, 8])
def test_phone_photo_with_exif_orientation(engine: OcrEngine, tmp_path: Path,
                                           orientation: int) -> None:
    page_image, expected = L.render_letter(L.LETTERS[0], 64, size=(2480, 3508))
    path = tmp_path / "photo.jpg"
    path.write_bytes(L.phone_photo(page_image, seed=orientation, orientation=orientation))
    with Image.open(path) as stored:
        assert stored.size == (4000, 3000)  # the sensor's frame, on its side
    upright = open_page_image(path)
    assert upright.height > upright.width  # turned upright by the tag, decoded reduced
    page, accuracy = read(engine, f"phone photo, EXIF orientation {orientation}", upright,
                          expected)
    assert page.rotation == 0
    assert accuracy >= MIN_ACCURACY


def detector_inputs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The detector's input sizes from now on, as the engine asks for them."""
    sizes: list[tuple[int, int]] = []
    detect = ocr.Models.detect

    def spy(self: ocr.Models, bgr: np.ndarray, size: tuple[int, int],
            frame: tuple[int, int] | None = None) -> list[np.ndarray]:
        sizes.append(size)
        return detect(self, bgr, size, frame)

    monkeypatch.setattr(ocr.Models, "detect", spy)
    return sizes


def test_a_photo_with_large_text_is_detected_once_at_the_small_size(
        engine: OcrEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 52 pt at 300 dpi, the smallest print of the benchmark's photos: glyphs about 23 px in
    # the 2000 px decoded photo, 9 px at the detector's first, smaller size
    page_image, expected = L.render_letter(L.LETTERS[2], 52, size=(2480, 3508))
    path = tmp_path / "photo.jpg"
    path.write_bytes(L.phone_photo(page_image, seed=2, orientation=6))
    sizes = detector_inputs(monkeypatch)
    _, accuracy = read(engine, "phone photo, 52 pt", open_page_image(path), expected)
    assert sizes == [(ocr.SURVEY_SIDE * 3 // 4, ocr.SURVEY_SIDE)]
    assert accuracy >= 0.97


def test_small_print_on_a_large_page_is_still_detected_at_full_size(
        engine: OcrEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    # 20 px characters on a 2480 x 3508 scan: 4.4 px at the first size, where the detector
    # merges lines; the page is detected again at DET_MAX_SIDE and reads as well as before
    image, expected = L.render_letter(L.LETTERS[1], 20, size=(2480, 3508))
    sizes = detector_inputs(monkeypatch)
    _, accuracy = read(engine, "300 dpi scan of small print", image, expected)
    assert [max(size) for size in sizes] == [ocr.SURVEY_SIDE, ocr.DET_MAX_SIDE]
    assert accuracy >= 0.97


def test_a_page_of_ordinary_size_is_detected_at_full_size_only(
        engine: OcrEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    image, expected = L.render_letter(L.LETTERS[0], 32)  # A4 at 150 dpi
    sizes = detector_inputs(monkeypatch)
    _, accuracy = read(engine, "150 dpi scan", image, expected)
    assert sizes == [(896, 1280)]
    assert accuracy >= 0.97


def test_handwriting_photo(engine: OcrEngine, tmp_path: Path) -> None:
    page_image, expected = L.render_handwriting(L.LETTERS[1], 68, size=(2480, 3508), seed=1)
    path = tmp_path / "note.jpg"
    path.write_bytes(L.phone_photo(page_image, seed=5, orientation=3))
    _, accuracy = read(engine, "handwriting photo, EXIF orientation 3",
                          open_page_image(path), expected)
    assert accuracy >= MIN_ACCURACY


@pytest.mark.parametrize(("handwriting", "letter", "phrases"), [
    (False, 2, ("关于镇政府公款吃喝", "巡视组同志", "今年1月以来", "刹住这股歪风", "一名普通党员")),
    (True, 5, ("关于低保评定不公", "尊敬的巡视组", "我村低保名额", "违规领取的资金", "红旗村村民")),
], ids=["printed", "handwriting"])
def test_vertical_page_reads_right_to_left(engine: OcrEngine, handwriting: bool, letter: int,
                                           phrases: tuple[str, ...]) -> None:
    image, expected = L.render_vertical(L.LETTERS[letter], 40, handwriting=handwriting)
    page, accuracy = read(engine, f"vertical, handwriting={handwriting}", image, expected)
    assert page.vertical and page.rotation == 0  # the page stands upright as it is
    assert accuracy >= MIN_ACCURACY
    assert in_order(page.text, *phrases)  # the rightmost column first, then leftwards


@pytest.mark.parametrize("letter", [0, 3])
def test_vertical_print_keeps_its_sentence_marks(engine: OcrEngine, letter: int) -> None:
    # ︒ ︐ ︓ sit in a corner of their cell: the column read on its side misses most of them
    image, expected = L.render_vertical(L.LETTERS[letter], 40)
    page, _ = read(engine, f"vertical printed, letter {letter}", image, expected)
    for mark in "。，：":
        assert page.text.count(mark) >= 0.75 * expected.count(mark), mark


def test_a_page_on_its_side_is_not_vertical_writing(engine: OcrEngine) -> None:
    image, expected = L.render_letter(L.LETTERS[1], 30, serif=True)
    page, accuracy = read(engine, "page turned 90", L.rotate_page(image, 90), expected)
    assert page.rotation == 270 and not page.vertical
    assert accuracy >= MIN_ACCURACY


def test_screen_capture(engine: OcrEngine) -> None:
    image, expected = L.render_screen(L.LETTERS[1])
    _, accuracy = read(engine, "screen capture", image, expected)
    assert accuracy >= 0.95


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) missing")
def test_cli_reads_offline(tmp_path: Path) -> None:
    """`intake ocr` in a fresh process without any network: the models come from the
    installed wheel, nothing is fetched."""
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("user namespaces are not available here")
    image, expected = L.render_columns(L.LETTERS[5], L.LETTERS[4], 28)
    path = tmp_path / "bulletin.png"
    image.save(path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "HOME": str(tmp_path), "INTAKE_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(["unshare", "-rn", sys.executable, "-m", "intake.cli", "ocr",
                             str(path)],
                            capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert L.char_accuracy(expected, record["text"]) >= MIN_ACCURACY


def test_the_sessions_do_not_spin_wait(engine: OcrEngine) -> None:
    with engine._lock:
        models = engine._model()
    for step in (models.det, models.cls, models.rec):
        options = step.session.session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        assert options.intra_op_num_threads == ocr.THREADS
