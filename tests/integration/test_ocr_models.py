"""The OCR models with the real files: each is loaded once, and the RapidOCR internals that
`intake.ocr.Models` builds on are still what it expects.

`Models` constructs RapidOCR's step classes itself (TextDetector, TextClassifier,
TextRecognizer), hands each a ready onnxruntime session through its configuration's
"session" and calls their pre- and post-processing directly. None of that is RapidOCR's
documented API, so pyproject.toml pins the versions it was checked on; when a new
RapidOCR changes any of it, these tests say so by name.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
from packaging.requirements import Requirement
from PIL import Image, ImageDraw

from intake import ocr
from tests import ocr_letters as L

L.require_font()

ROOT = Path(__file__).resolve().parents[2]
CHANGED = ("RapidOCR internals changed (rapidocr {version}): intake.ocr.Models relies on "
           "{what}; adapt Models and re-check the pin in pyproject.toml")


def changed(what: str) -> str:
    return CHANGED.format(version=metadata.version("rapidocr"), what=what)


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model file of every onnxruntime session created while the test runs."""
    names: list[str] = []
    init = onnxruntime.InferenceSession.__init__

    def counting(self: onnxruntime.InferenceSession, path: Any, *args: Any,
                 **kwargs: Any) -> None:
        names.append(Path(str(path)).name)
        init(self, path, *args, **kwargs)

    monkeypatch.setattr(onnxruntime.InferenceSession, "__init__", counting)
    return names


def line_image(text: str, size: int = 40) -> Image.Image:
    image = Image.new("RGB", (60 + size * len(text), 2 * size), "white")
    ImageDraw.Draw(image).text((30, size // 2), text, font=L.load_font(size), fill="black")
    return image


def test_each_model_file_is_loaded_once(created: list[str]) -> None:
    engine = ocr.OcrEngine()
    engine.load()
    assert sorted(created) == sorted([ocr.DET_MODEL, ocr.CLS_MODEL, ocr.REC_MODEL])
    # the first page (all three steps run, the page is read at four turns) loads nothing more
    page = engine.read_image(line_image("巡察组信访举报"))
    assert "巡察组" in page.text
    assert len(created) == 3
    engine.load()  # loading again is a no-op
    assert len(created) == 3


def test_the_installed_rapidocr_is_the_pinned_one() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [Requirement(dep) for dep in project["project"]["dependencies"]
            if Requirement(dep).name == "rapidocr"]
    assert len(pins) == 1
    version = metadata.version("rapidocr")
    assert pins[0].specifier.contains(version), (
        f"rapidocr {version} is installed, pyproject.toml pins {pins[0].specifier}: "
        "intake.ocr.Models uses RapidOCR internals checked only on the pinned versions")


def test_the_steps_run_on_our_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    ours: dict[str, onnxruntime.InferenceSession] = {}
    make = ocr._session

    def recording(path: str) -> onnxruntime.InferenceSession:
        ours[Path(path).name] = session = make(path)
        return session

    monkeypatch.setattr(ocr, "_session", recording)
    models = ocr.Models()
    for step, name in ((models.det, ocr.DET_MODEL), (models.cls, ocr.CLS_MODEL),
                       (models.rec, ocr.REC_MODEL)):
        wrapper = getattr(step, "session", None)
        assert getattr(wrapper, "session", None) is ours[name], changed(
            f"{type(step).__name__}.session.session being the onnxruntime session passed "
            "in its configuration's 'session'")


def test_detector_classifier_and_recogniser_as_called() -> None:
    models = ocr.Models()
    bgr = ocr.prepare_page(line_image("关于村党支部书记侵占惠农补贴的情况反映"))
    h, w = bgr.shape[:2]
    try:
        boxes = models.detect(bgr, ocr.detector_size(w, h, ocr.DET_MAX_SIDE))
    except (AttributeError, TypeError, ValueError) as exc:
        raise AssertionError(changed("TextDetector.session(x), .postprocess_op(preds, "
                                     "(h, w)) -> (boxes, scores) and .sorted_boxes")) from exc
    assert boxes and all(np.asarray(box).shape == (4, 2) for box in boxes), changed(
        "the detector's boxes as arrays of four corners")
    crop = ocr._crop_box(bgr, max(boxes, key=ocr.box_length))
    try:
        votes = models.classify([crop])
        readings = models.recognise([crop])
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise AssertionError(changed("TextClassifier(list) -> .cls_res and "
                                     "TextRecognizer(TextRecInput(img=list)) -> .txts, "
                                     ".scores")) from exc
    assert votes[0][0] in ("0", "180") and 0.0 <= votes[0][1] <= 1.0, changed(
        "the classifier's (label, score) pairs with labels '0' and '180'")
    text, score = readings[0]
    assert score > 0.8 and L.char_accuracy("关于村党支部书记侵占惠农补贴的情况反映", text) > 0.9, \
        changed("the recogniser's text and score per crop")
