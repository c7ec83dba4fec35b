"""The route guess from worked examples, used only when no route rule matches."""

from __future__ import annotations

from pathlib import Path

import yaml

from intake.classify import Classifier
from intake.classify.default import default_model
from intake.classify.route_guess import EXAMPLES_FILE, RouteGuesser
from intake.round import load_round
from intake.rules import default_directory, load_rules

ROUND = load_round(Path(__file__).resolve().parents[2] / "config" / "round.example.yaml")
RULES = load_rules()
MODEL = default_model()
# No word of routes.yaml in it: only the examples can say whose matter it is.
UNMATCHED = "在餐馆洗碗干了两个月，走的时候老板一个子儿都没结给我"


def test_unmatched_text_gets_a_guess_before_the_fallback() -> None:
    assert MODEL is not None
    s = Classifier(ROUND, RULES, MODEL).classify(UNMATCHED)
    assert not s.in_scope
    assert s.routes == ("human_resources", RULES.fallback)
    assert s.needs_review


def test_without_a_semantic_layer_the_fallback_stands() -> None:
    s = Classifier(ROUND, RULES).classify(UNMATCHED)
    assert s.routes == (RULES.fallback,)
    assert s.needs_review


def test_examples_name_known_departments() -> None:
    examples = yaml.safe_load((default_directory() / EXAMPLES_FILE).read_text("utf-8"))
    assert set(examples) <= set(RULES.departments)
    assert all(texts for texts in examples.values())


def test_missing_examples_file_means_no_guess(tmp_path: Path) -> None:
    assert MODEL is not None
    assert RouteGuesser.load(MODEL.semantic.encoder, tmp_path) is None
