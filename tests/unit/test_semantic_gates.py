"""When the semantic layer may add a label: enough words to go on, and a margin over its
threshold when the lexicon already found one. Route rows for the layer's route head."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from intake.classify import DISCIPLINES, Classifier, engine
from intake.classify.model import DisciplineModel
from intake.classify.semantic import SemanticLayer, WordVectors
from intake.classify.training import routes_from_file
from intake.round import load_round
from intake.rules import load_rules

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
WORDS = ["村里", "书记", "工程", "老板", "群众", "意见", "名额", "房子", "收受", "贿赂"]
# Seven content words, no discipline the lexicon knows.
PLAIN = "村里的书记和老板当着群众说了名额和房子的意见。"
# The lexicon finds integrity; seven content words.
BRIBE = "村里的书记收受老板的贿赂，群众意见很大。"


def constant(label: str, p: float, **others: float) -> DisciplineModel:
    """A model whose semantic layer gives `label` probability p whatever the text (the
    `others` theirs, the rest 0.01), over word vectors of WORDS."""
    vectors = np.random.default_rng(0).normal(size=(len(WORDS), 8)).astype(np.float32)
    probs = {d: others.get(d, 0.01) for d in DISCIPLINES} | {label: p}
    logit = {d: math.log(q / (1 - q)) for d, q in probs.items()}
    layer = SemanticLayer({"format": 1, "labels": list(DISCIPLINES)},
                          WordVectors(WORDS, vectors), np.zeros((len(DISCIPLINES), 8)),
                          np.array([logit[d] for d in DISCIPLINES]))
    info = {"format": 1, "version": "gates", "labels": [], "ngram_range": [1, 1]}
    model = DisciplineModel(info, [], np.zeros(0), np.zeros((0, 0)), np.zeros(0))
    model.semantic = layer
    return model


@pytest.fixture(scope="module")
def round_():  # type: ignore[no-untyped-def]
    return load_round(FIXTURES / "authored_round.yaml")


def test_content_words_count_words_of_two_characters_or_more() -> None:
    words = WordVectors([*WORDS, "的"], np.ones((len(WORDS) + 1, 2), dtype=np.float32))
    assert words.content_words(PLAIN) == 7
    assert words.content_words("书记的的的") == 1
    assert len(words.find("书记的")) == 2


def test_a_short_text_gets_no_label_from_the_layer(round_) -> None:  # type: ignore[no-untyped-def]
    keywords = Classifier(round_, load_rules())
    layered = Classifier(round_, load_rules(), constant("mass", 0.99))
    for text in ("书记不管事。", "村里书记老板。"):
        assert layered.classify(text).disciplines == keywords.classify(text).disciplines
    assert "mass" in layered.classify(PLAIN).disciplines


def test_with_enough_words_and_no_lexicon_label_the_threshold_holds(round_) -> None:  # type: ignore[no-untyped-def]
    assert Classifier(round_, load_rules()).classify(PLAIN).disciplines == ()
    above = engine.SEMANTIC_THRESHOLD + 0.02
    got = Classifier(round_, load_rules(), constant("work", above)).classify(PLAIN)
    assert got.disciplines == ("work",) and got.needs_review
    (evidence,) = [e for e in got.evidence if e.source == "model"]
    assert evidence.label == "work" and PLAIN[evidence.start:evidence.end] == evidence.text
    below = engine.SEMANTIC_THRESHOLD - 0.02
    assert Classifier(round_, load_rules(), constant("work", below)).classify(PLAIN
                                                                             ).disciplines == ()


def test_the_layer_adds_only_its_likeliest_label(round_) -> None:  # type: ignore[no-untyped-def]
    assert engine.SEMANTIC_MAX_ADDED == 1
    got = Classifier(round_, load_rules(), constant("work", 0.9, mass=0.95, life=0.8)
                     ).classify(PLAIN)
    assert got.disciplines == ("mass",)
    assert [e.label for e in got.evidence if e.source == "model"] == ["mass"]


def test_beside_a_lexicon_label_the_layer_adds_nothing(round_) -> None:  # type: ignore[no-untyped-def]
    assert "integrity" in Classifier(round_, load_rules()).classify(BRIBE).disciplines
    got = Classifier(round_, load_rules(), constant("mass", 0.99)).classify(BRIBE)
    assert "mass" not in got.disciplines
    assert not [e for e in got.evidence if e.source == "model"]


def test_route_rows_are_the_first_department_of_items_out_of_scope(tmp_path: Path) -> None:
    rows = [{"text": "欠薪", "in_scope": False, "routes_ok": ["human_resources", "hotline_12345"]},
            {"text": "广告", "in_scope": False, "routes_ok": ["none"]},
            {"text": "书记收礼", "in_scope": True, "routes_ok": []},
            {"text": "转交", "in_scope": False, "routes_ok": ["accept", "housing"]},
            {"in_scope": False, "routes_ok": ["housing"]},
            {"text": "无去向", "in_scope": False}]
    path = tmp_path / "routes.jsonl"
    path.write_text("\n".join([*(json.dumps(r, ensure_ascii=False) for r in rows), "not json",
                               ""]), encoding="utf-8")
    assert routes_from_file(str(path)) == [("欠薪", "human_resources"), ("转交", "housing")]


@pytest.mark.parametrize("text", ["镇长收受贿赂", "石门村蒋书记收受贿赂。", "书记贪污"])
def test_the_shipped_layer_adds_nothing_to_a_bare_charge(round_, text: str) -> None:  # type: ignore[no-untyped-def]
    from intake.classify.default import default_model

    model = default_model()
    assert model is not None
    got = Classifier(round_, load_rules(), model).classify(text)
    assert got.disciplines == ("integrity",)
    assert not [e for e in got.evidence if e.source == "model"]
