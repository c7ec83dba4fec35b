"""The statistical discipline model: training, saving without pickle, loading without sklearn."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from intake.classify import DISCIPLINES, Classifier
from intake.classify.default import default_model
from intake.classify.model import LABELS, DisciplineModel, ModelError, normalise
from intake.classify.models_store import (
    ActiveModel,
    activate,
    active_model,
    list_models,
    models_dir,
)
from intake.round import parse_round
from intake.rules import load_rules
from tests.sample_disciplines import SENTENCES, sample_rows

UNSEEN = [
    "村会计截留了低保金，还把补偿款克扣了一半。",
    "副镇长收受老板的购物卡，用公款吃喝。",
    "青 山 镇 书 记 包 养 情 人 ， 生 活 奢 靡 。",  # OCR spacing
    "ＡＢＣ局长插手招投标，Ｐａｒｔｙ　２０２６年",  # full-width letters and digits
    "",
    "   \n\t ",
    "老板拖欠工资。" * 40,
]


@pytest.fixture(scope="module")
def model() -> DisciplineModel:
    return DisciplineModel.train(sample_rows())


def test_trains_every_label_with_enough_rows(model: DisciplineModel) -> None:
    assert model.labels == LABELS  # the six disciplines and the accusation head
    assert re.fullmatch(r"lr-\d{8}-\d{6}-[0-9a-f]{8}", model.version)
    assert model.info["rows"] == len(sample_rows())
    assert model.info["label_rows"] == {**{d: 10 for d in DISCIPLINES}, "accusation": 60}
    # it learnt its training set
    for label in DISCIPLINES:
        hits = sum(model.probabilities(t)[label] >= 0.5 for t in SENTENCES[label])
        assert hits >= 8, label


def test_training_is_deterministic(model: DisciplineModel) -> None:
    again = DisciplineModel.train(sample_rows())
    assert again.version.rsplit("-", 1)[1] == model.version.rsplit("-", 1)[1]
    assert again.probabilities(UNSEEN[0]) == model.probabilities(UNSEEN[0])
    assert DisciplineModel.train(sample_rows(), version="given").version == "given"


def test_saved_model_matches_sklearn_without_sklearn(
    model: DisciplineModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = model.save(tmp_path)
    assert path == tmp_path / model.version
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "weights.npz"]
    info = json.loads((path / "model.json").read_text(encoding="utf-8"))
    assert info["version"] == model.version and info["labels"] == list(LABELS)
    assert {"trained_at", "ngram_range", "label_rows", "sklearn_version"} <= set(info)
    with np.load(path / "weights.npz", allow_pickle=False) as w:
        assert w["terms"].dtype.kind == "U"
        assert w["coef"].shape == (len(LABELS), len(w["terms"]))

    assert model._sklearn is not None
    vectorizer, fitted = model._sklearn
    texts = UNSEEN + [t for _, t in zip(range(20), (r[0] for r in sample_rows()), strict=False)]
    x = vectorizer.transform([normalise(t) for t in texts])
    expected = np.column_stack([lr.predict_proba(x)[:, 1] for lr in fitted])

    monkeypatch.setitem(sys.modules, "sklearn", None)  # any import of sklearn now fails
    loaded = DisciplineModel.load(path)
    assert loaded.version == model.version and loaded.labels == model.labels
    got = np.array([[loaded.probabilities(t)[d] for d in loaded.labels] for t in texts])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_clause_scores(model: DisciplineModel) -> None:
    text = "村支书收受红包，还把低保名额给了自己的亲戚。"
    spans = [(0, 7), (8, len(text))]
    scores = model.clause_scores(text, "mass", spans)
    assert scores == [model.probabilities(text[a:b])["mass"] for a, b in spans]
    assert scores[1] > scores[0]
    assert model.clause_scores(text, "gossip", spans) == [0.0, 0.0]


def test_a_label_with_too_few_rows_is_not_trained() -> None:
    rows = [r for r in sample_rows() if r[1] != ("life",)]
    rows += [(t, ("life",)) for t in SENTENCES["life"][:3]]
    model = DisciplineModel.train(rows)
    assert "life" not in model.labels and model.info["untrained"] == ["life"]
    assert set(model.probabilities("局长包养情人。")) == set(LABELS) - {"life"}
    with pytest.raises(ModelError, match="没有可训练的类别"):
        DisciplineModel.train(rows[:12])


def test_model_store(model: DisciplineModel, tmp_path: Path) -> None:
    assert active_model(tmp_path) is None and list_models(tmp_path) == []
    model.save(models_dir(tmp_path))
    assert active_model(tmp_path) is None  # saved, not active
    activate(tmp_path, model.version)
    assert (models_dir(tmp_path) / "ACTIVE").read_text().strip() == model.version
    loaded = active_model(tmp_path)
    assert loaded is not None and loaded.version == model.version
    (listed,) = list_models(tmp_path)
    assert (listed.version, listed.active, listed.rows) == (model.version, True, 68)
    with pytest.raises(ModelError, match="没有模型版本"):
        activate(tmp_path, "lr-nothing")
    with pytest.raises(ModelError):
        activate(tmp_path, "../..")
    with pytest.raises(ModelError, match="已存在"):
        model.save(models_dir(tmp_path))
    assert not [p for p in models_dir(tmp_path).iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("damage", ["truncate_weights", "bad_json", "wrong_shape", "traversal",
                                    "huge_ngrams", "other_version"])
def test_a_corrupt_model_is_none(model: DisciplineModel, tmp_path: Path, damage: str,
                                 caplog: pytest.LogCaptureFixture) -> None:
    path = model.save(models_dir(tmp_path))
    activate(tmp_path, model.version)
    if damage == "truncate_weights":
        weights = path / "weights.npz"
        weights.write_bytes(weights.read_bytes()[:500])
    elif damage == "bad_json":
        (path / "model.json").write_text("{", encoding="utf-8")
    elif damage in ("wrong_shape", "huge_ngrams", "other_version"):
        info = json.loads((path / "model.json").read_text(encoding="utf-8"))
        if damage == "wrong_shape":
            info["labels"] = info["labels"][:-1]
        elif damage == "huge_ngrams":  # would make every item quadratic in its length
            info["ngram_range"] = [1, 100000]
        else:
            info["version"] = "x" * 200
        (path / "model.json").write_text(json.dumps(info), encoding="utf-8")
    else:
        (models_dir(tmp_path) / "ACTIVE").write_text("../../etc\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert active_model(tmp_path) is None
    assert caplog.records


# --- the statistical layer inside the classifier ---------------------------------------

class _Sure:
    """A model that is sure the text alleges `life`, most of all in the clause naming 女人."""

    version = "lr-20260101-000000-0000abcd"
    labels = ("life", "integrity")

    def probabilities(self, text: str) -> dict[str, float]:
        return {"life": 0.95, "integrity": 0.3}

    def clause_scores(self, text: str, label: str, spans: list[tuple[int, int]]) -> list[float]:
        return [0.9 if "女人" in text[a:b] else 0.1 for a, b in spans]


ROUND = parse_round("""
round: {name: 测试轮次, team: 县委第二巡察组, opens: 2026-05-06T08:00+08:00,
        closes: 2026-06-12T17:30+08:00}
inspected_unit: {name: 中共柳河镇委员会, short: 柳河镇党委, level: township,
                 places: [柳河镇], county: 安平县, subordinates: [上湾村]}
scope: {roles: [leadership, subordinate_head, key_post]}
roster:
  - {name: 李明远, post: 镇党委书记, role: leadership}
""")


def test_model_adds_a_label_with_its_clause_and_asks_for_review() -> None:
    text = "柳河镇李明远书记工作很少露面，听人说他在县城另有一个女人，经常不回家。"
    keywords = Classifier(ROUND, load_rules()).classify(text)
    assert "life" not in keywords.disciplines  # the lexicon alone does not see it
    s = Classifier(ROUND, load_rules(), _Sure()).classify(text)  # type: ignore[arg-type]
    assert "life" in s.disciplines and "integrity" not in s.disciplines  # 0.3 < threshold
    learnt = [e for e in s.evidence if e.source == "model"]
    assert [e.label for e in learnt] == ["life"]
    assert "女人" in learnt[0].text and text[learnt[0].start:learnt[0].end] == learnt[0].text
    assert learnt[0].status == "hedged"  # "听人说" in the sentence
    assert s.needs_review
    assert s.model_version == "keywords-1+lr-20260101-000000-0000abcd"


def test_model_label_in_a_negated_clause_does_not_count() -> None:
    text = "柳河镇李明远书记作风正派，从来没有别的女人。"
    s = Classifier(ROUND, load_rules(), _Sure()).classify(text)  # type: ignore[arg-type]
    assert "life" not in s.disciplines
    assert [e.status for e in s.evidence if e.source == "model"] == ["negated"]


def test_active_model_is_picked_up_when_changed(model: DisciplineModel, tmp_path: Path) -> None:
    # Nothing trained yet: the default layer shipped with the package, or keywords alone.
    assert ActiveModel(tmp_path, check_every=0.0, fallback=False).get() is None
    active = ActiveModel(tmp_path, check_every=0.0)
    assert active.get() is default_model()
    clf = Classifier(ROUND, load_rules(), active)
    assert re.fullmatch(r"keywords-1\+sem-default-[0-9a-f]{10}", clf.version)
    model.save(models_dir(tmp_path))
    activate(tmp_path, model.version)
    assert active.get() is not None and active.get().version == model.version
    assert clf.classify("柳河镇李明远书记收了购物卡").model_version.endswith(model.version)


def test_single_character_negations_inside_a_clause_do_not_negate_it() -> None:
    # "未经" and "没收" hold 未/没 without denying anything; only a word like 没有 negates.
    text = "柳河镇李明远书记未经组织同意在县城另有一个女人。"
    s = Classifier(ROUND, load_rules(), _Sure()).classify(text)  # type: ignore[arg-type]
    assert [e.status for e in s.evidence if e.source == "model"] == ["asserted"]
    assert "life" in s.disciplines


class _Accuses:
    """A model that finds no discipline but reads every text as an accusation (or none)."""

    version = "lr-20260101-000000-0000abcd"

    def __init__(self, score: float) -> None:
        self.score = score

    def probabilities(self, text: str) -> dict[str, float]:
        return {"life": 0.1, "accusation": self.score}

    def clause_scores(self, text: str, label: str, spans: list[tuple[int, int]]) -> list[float]:
        return [0.1] * len(spans)

    def accusation_score(self, text: str) -> float:
        return self.score


def test_accusation_head_puts_an_accused_scope_person_in_scope_for_review() -> None:
    # A denial keeps the rules from presuming a complaint; the charge itself is in words the
    # lexicon lacks.
    text = "柳河镇李明远书记说他没拿过一分钱，可镇上的活最后都落到他家里人手上。"
    keywords = Classifier(ROUND, load_rules()).classify(text)
    assert not keywords.in_scope and keywords.subject_role == "leadership"
    s = Classifier(ROUND, load_rules(), _Accuses(0.9)).classify(text)  # type: ignore[arg-type]
    assert s.in_scope and s.needs_review and s.routes[0] == "accept"
    assert s.disciplines == () and s.subject_role == "leadership"
    unsure = Classifier(ROUND, load_rules(), _Accuses(0.2)).classify(text)  # type: ignore[arg-type]
    assert unsure.in_scope == keywords.in_scope and unsure.routes == keywords.routes


def test_accusation_head_only_adds() -> None:
    # In scope by the lexicon stays in scope when the head says no accusation; nobody in a
    # scope role means the head cannot put an item in scope.
    accused = "柳河镇李明远书记收受老板送的购物卡和红包。"
    assert Classifier(ROUND, load_rules()).classify(accused).in_scope
    s = Classifier(ROUND, load_rules(), _Accuses(0.0)).classify(accused)  # type: ignore[arg-type]
    assert s.in_scope
    claim = "我家的低保今年没有批下来，想问问怎么重新申请。"
    s = Classifier(ROUND, load_rules(), _Accuses(0.99)).classify(claim)  # type: ignore[arg-type]
    assert not s.in_scope


def test_accusation_score_of_a_trained_model(model: DisciplineModel) -> None:
    assert model.accusation_score("村支书收受红包，还把低保名额给了自己的亲戚。") > 0.5
    old = DisciplineModel({**model.info, "labels": list(DISCIPLINES)}, model._terms,
                          model._idf, model._coef[:6], model._intercepts[:6])
    assert old.accusation_score("村支书收受红包") is None  # a model from before the head
