"""The route guess from worked examples, used only when no route rule matches."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from intake.classify import Classifier
from intake.classify.default import default_model
from intake.classify.route_guess import EXAMPLES_FILE, RouteGuesser, RouteHead
from intake.classify.routing import Router
from intake.round import load_round
from intake.rules import default_directory, load_rules

ROUND = load_round(Path(__file__).resolve().parents[2] / "config" / "round.example.yaml")
RULES = load_rules()
MODEL = default_model()
ROUTER = Router(RULES)
# No word of routes.yaml in it: only the examples can say whose matter it is.
UNMATCHED = "在工厂打工三个月，老板一分钱没给"


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


# No word of routes.yaml in any of them: the route head alone names the department.
HEAD_CASES = [
    (UNMATCHED, "human_resources"),
    ("楼上天天半夜蹦迪，砸得天花板咚咚响，孩子整宿睡不着", "ecology_environment"),
    ("小孩在学堂里让同学欺负了好几回", "education"),
    # ("注水" is a rule of the market now.)
    ("前天在集上买的猪肉回家一煮全是水", "market_regulation"),
]


@pytest.mark.parametrize(("text", "department"), HEAD_CASES)
def test_the_route_head_names_the_department_no_rule_names(text: str, department: str) -> None:
    assert MODEL is not None and MODEL.semantic.route is not None
    assert ROUTER.matches(text) == []  # no rule: only the head can say
    s = Classifier(ROUND, RULES, MODEL).classify(text)
    assert not s.in_scope
    assert s.routes == (department, RULES.fallback)
    assert s.needs_review
    assert MODEL.semantic.route.guess(MODEL.semantic.encoder, text) == department


def test_a_layer_without_a_route_head_falls_back_to_the_examples() -> None:
    assert MODEL is not None
    layer = copy.copy(MODEL.semantic)
    layer.route = None
    model = copy.copy(MODEL)
    model.semantic = layer
    s = Classifier(ROUND, RULES, model).classify(UNMATCHED)
    examples = RouteGuesser.load(MODEL.semantic.encoder)
    assert examples is not None
    assert s.routes == (examples.guess(UNMATCHED), RULES.fallback)
    assert s.routes[0] in RULES.departments


def test_route_head_labels_are_departments() -> None:
    assert MODEL is not None and MODEL.semantic.route is not None
    assert set(MODEL.semantic.route.labels) <= set(RULES.departments) - {"accept"}


def test_a_route_head_of_two_departments_keeps_a_row_for_each() -> None:
    layer = default_model().semantic
    rows = [("工资拖欠了三个月", "human_resources"), ("老板不给发工资", "human_resources"),
            ("辞退了也不给补偿", "human_resources"), ("河里排污水鱼都死了", "ecology_environment"),
            ("工厂半夜排黑烟", "ecology_environment"), ("养猪场臭气熏天", "ecology_environment")]
    head = RouteHead.train(layer.encoder, rows)
    assert list(head.labels) == ["ecology_environment", "human_resources"]
    assert head.coef.shape[0] == 2
    assert head.guess(layer.encoder, "厂里欠了我们半年工资") == "human_resources"
    assert head.guess(layer.encoder, "化工厂往河里排废水") == "ecology_environment"
