"""When the item page asks a person to check a transfer (display.route_unsure)."""

from __future__ import annotations

from types import SimpleNamespace

from handlers.web import display
from intake.rules import load_rules

BODIES = display.discipline_bodies(load_rules())


def route_unsure(cls: SimpleNamespace) -> bool:
    return display.route_unsure(cls, BODIES)


def suggestion(routes: list[str], evidence: list[dict], **kw: object) -> SimpleNamespace:
    return SimpleNamespace(source=kw.get("source", "service"), needs_review=False,
                           routes=routes, evidence=evidence)


def test_a_department_with_the_words_its_rule_read_needs_no_check() -> None:
    ev = [{"text": "物业费", "label": "housing", "status": "asserted", "source": "route"}]
    assert not route_unsure(suggestion(["housing"], ev))
    assert route_unsure(suggestion(["water_resources"], []))


def test_a_discipline_body_rests_on_the_charge() -> None:
    charge = [{"text": "收了红包", "label": "integrity", "status": "asserted"}]
    assert not route_unsure(suggestion(["discipline_commission", "higher_commission"], charge))
    denied = [{"text": "收了红包", "label": "integrity", "status": "negated"}]
    assert route_unsure(suggestion(["discipline_commission"], denied))


def test_a_persons_decision_and_an_archive_are_never_asked_about() -> None:
    assert not route_unsure(suggestion(["water_resources"], [], source="staff"))
    assert not route_unsure(suggestion(["none"], []))
