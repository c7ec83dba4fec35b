"""OCR accuracy on rendered Chinese letters, clean and degraded, with the real models.

Character accuracy = 1 - edit distance / expected length, whitespace removed on both sides.
Thresholds from the issue: mean >= 0.97 on clean pages, >= 0.90 on degraded ones (noise,
blur, JPEG artefacts, uneven lighting, pages turned by 90/180/270 degrees, skew); every
turned page must reach 0.90 on its own, which it only can with the lines in reading order.
Run with `pytest -s` to see the measured figures.
"""

from __future__ import annotations

import io
import json
import statistics
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from intake.ocr import OcrEngine, PageText, cli_main, get_engine
from tests import ocr_letters as L

L.require_font()

CLEAN_MIN = 0.97
DEGRADED_MIN = 0.90

Degrade = Callable[[Image.Image], Image.Image]

# (name, letter index, degradation, expected rotation, expected skew or None)
DEGRADED: list[tuple[str, int, Degrade, int, float | None]] = [
    ("noise", 4, lambda im: L.add_noise(im, 22, seed=1), 0, 0.0),
    ("blur", 5, lambda im: L.blur(im, 1.6), 0, 0.0),
    ("jpeg q30", 0, lambda im: L.jpeg(im, 30), 0, 0.0),
    ("uneven light", 1, L.uneven_lighting, 0, 0.0),
    ("turned 90", 2, lambda im: L.rotate_page(im, 90), 270, 0.0),
    ("turned 180", 3, lambda im: L.jpeg(L.rotate_page(im, 180), 40), 180, 0.0),
    ("turned 270", 4, lambda im: L.add_noise(L.rotate_page(im, 270), 12, seed=2), 90, 0.0),
    ("skew +5", 5, lambda im: L.skew_page(im, 5), 0, -5.0),
    ("skew -6 jpeg", 0, lambda im: L.jpeg(L.skew_page(im, -6), 40), 0, 6.0),
]


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return get_engine()  # shared with cli_main below: the models load once


@pytest.fixture(scope="module")
def letters() -> list[tuple[Image.Image, str]]:
    return L.render_all()


@pytest.fixture(scope="module")
def clean(engine: OcrEngine, letters: list[tuple[Image.Image, str]]
          ) -> list[tuple[str, PageText, float]]:
    results = []
    for i, (image, expected) in enumerate(letters[:4]):
        page = engine.read_image(image)
        results.append((f"letter {i}", page, L.char_accuracy(expected, page.text)))
    return results


@pytest.fixture(scope="module")
def degraded(engine: OcrEngine, letters: list[tuple[Image.Image, str]]
             ) -> dict[str, tuple[PageText, float]]:
    results = {}
    for name, index, degrade, _, _ in DEGRADED:
        image, expected = letters[index]
        page = engine.read_image(degrade(image))
        results[name] = (page, L.char_accuracy(expected, page.text))
    return results


def report(title: str, rows: list[tuple[str, PageText, float]]) -> float:
    mean = statistics.fmean(acc for _, _, acc in rows)
    print(f"\n{title}: mean character accuracy {mean:.4f}")
    for name, page, acc in rows:
        print(f"  {name:<14} accuracy {acc:.4f}  confidence {page.confidence:.3f}  "
              f"{page.seconds:.2f} s  rotation {page.rotation}  skew {page.skew:+.1f}")
    return mean


def test_clean_letters(clean: list[tuple[str, PageText, float]]) -> None:
    mean = report("clean letters", clean)
    assert mean >= CLEAN_MIN
    for _, page, _ in clean:
        assert page.rotation == 0 and page.skew == 0.0
        assert 0.9 < page.confidence <= 1.0


def test_degraded_letters(degraded: dict[str, tuple[PageText, float]]) -> None:
    mean = report("degraded letters", [(name, page, acc) for name, (page, acc) in degraded.items()])
    assert mean >= DEGRADED_MIN


@pytest.mark.parametrize("name", [d[0] for d in DEGRADED if d[3] != 0])
def test_turned_pages_read_in_order(degraded: dict[str, tuple[PageText, float]],
                                    name: str) -> None:
    page, acc = degraded[name]
    expected_rotation = next(d[3] for d in DEGRADED if d[0] == name)
    assert page.rotation == expected_rotation
    assert acc >= DEGRADED_MIN


def test_skew_is_measured_and_removed(degraded: dict[str, tuple[PageText, float]]) -> None:
    for name, _, _, _, skew in DEGRADED:
        page, acc = degraded[name]
        assert page.skew == pytest.approx(skew, abs=1.0), name
        assert acc >= DEGRADED_MIN, name


def test_blank_page(engine: OcrEngine) -> None:
    page = engine.read_image(Image.new("RGB", (1240, 1754), "white"))
    assert page.text == "" and page.confidence == 0.0


def test_threads_share_one_engine(engine: OcrEngine) -> None:
    note = Image.new("RGB", (900, 200), "white")
    ImageDraw.Draw(note).text((40, 70), "巡视组：反映问题 2026年3月5日",
                              font=L.load_font(36), fill="black")
    with ThreadPoolExecutor(3) as pool:
        pages = list(pool.map(engine.read_image, [note, note.rotate(180), note]))
    assert {page.text for page in pages} == {"巡视组：反映问题2026年3月5日"}
    assert [page.rotation for page in pages] == [0, 180, 0]


@pytest.fixture(scope="module")
def letters_pdf(tmp_path_factory: pytest.TempPathFactory,
                letters: list[tuple[Image.Image, str]]) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("ocr") / "letters.pdf"
    images = [letters[i][0] for i in (5, 2)]
    images[0].save(path, save_all=True, append_images=images[1:], resolution=150)
    return path, [letters[i][1] for i in (5, 2)]


def test_pdf_pages_in_order(engine: OcrEngine, letters_pdf: tuple[Path, list[str]]) -> None:
    path, expected = letters_pdf
    pages = list(engine.read_file(path))
    assert [n for n, _ in pages] == [1, 2]
    for (n, page), want in zip(pages, expected, strict=True):
        acc = L.char_accuracy(want, page.text)
        print(f"\nPDF page {n}: accuracy {acc:.4f}, {page.seconds:.2f} s")
        assert acc >= CLEAN_MIN


def test_cli_contract(tmp_path: Path, letters: list[tuple[Image.Image, str]],
                      letters_pdf: tuple[Path, list[str]]) -> None:
    pdf, pdf_texts = letters_pdf
    photo = tmp_path / "note.jpg"
    image, photo_text = letters[3]
    L.rotate_page(image, 180).save(photo, "JPEG", quality=85)
    garbage = tmp_path / "scan.tif"
    garbage.write_bytes(b"II*\x00 this is not a TIFF")
    out = io.StringIO()

    code = cli_main([str(pdf), str(garbage), str(photo)], out)

    assert code == 1
    lines = out.getvalue().splitlines()
    records = [json.loads(x) for x in lines]
    assert all(not x.isascii() for x in lines)  # Chinese kept as is, not \u escapes
    assert [(r["file"], r["page"]) for r in records] == [
        (str(pdf), 1), (str(pdf), 2), (str(garbage), 1), (str(photo), 1)]
    good = [records[0], records[1], records[3]]
    for record, want in zip(good, [*pdf_texts, photo_text], strict=True):
        assert set(record) == {"file", "page", "text", "confidence", "seconds"}
        assert L.char_accuracy(want, record["text"]) >= CLEAN_MIN
        assert 0.9 < record["confidence"] <= 1.0
        assert record["confidence"] == round(record["confidence"], 4)
        assert record["seconds"] == round(record["seconds"], 3) and record["seconds"] > 0
    error = records[2]
    assert set(error) == {"file", "page", "text", "confidence", "seconds", "error"}
    assert error["text"] == "" and error["confidence"] == 0
    assert "无法识别" in error["error"] or "损坏" in error["error"]
