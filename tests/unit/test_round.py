from __future__ import annotations

import pytest

from intake.round import RoundFileError, load_round, parse_round
from intake.settings import EXAMPLE_ROUND
from tests.support import SHARED


def test_example_round_loads() -> None:
    r = load_round(EXAMPLE_ROUND)
    assert r.unit.name == "中共青山镇委员会"
    assert r.scope_roles == ("leadership", "subordinate_head", "key_post")
    assert len(r.roster) == 15
    assert r.roster[8].name == "刘德福" and r.roster[8].place == "东岭村"
    assert [(h.start.hour, h.end.hour) for h in r.hotline_hours] == [(8, 12), (14, 17)]
    assert r.closes.utcoffset().total_seconds() == 8 * 3600


@pytest.mark.skipif(not SHARED.exists(), reason="../shared (the contracts) is not beside the repo")
def test_config_round_is_equivalent_to_the_contract_example() -> None:
    ours = load_round(EXAMPLE_ROUND)
    contract = load_round(SHARED / "contracts" / "round.example.yaml")
    assert (ours.unit, ours.roster, ours.scope_roles, ours.closes) == (
        contract.unit, contract.roster, contract.scope_roles, contract.closes)


def test_late_is_after_close() -> None:
    r = load_round(EXAMPLE_ROUND)
    from datetime import timedelta

    assert not r.is_late(r.closes)
    assert r.is_late(r.closes + timedelta(seconds=1))


BASE = EXAMPLE_ROUND.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("roles: [leadership, subordinate_head, key_post]", "roles: [leadership, bosses]",
         "scope.roles[1]"),
        ("closes: 2026-04-10T17:30+08:00", "closes: 2026-02-10T17:30+08:00", "round.closes"),
        ("opens: 2026-03-02T08:00+08:00", "opens: 2026-03-02T08:00", "round.opens"),
        ('hours: ["08:00-12:00", "14:30-17:30"]', 'hours: ["08:00-noon"]',
         "round.hotline.hours[0]"),
        ("{name: 李建国, post: 镇党委书记, role: leadership}",
         "{name: 李建国, post: 镇党委书记, role: boss}", "roster[0].role"),
        ("{name: 王海涛, post: 镇党委副书记、镇长, role: leadership}",
         "{post: 镇长, role: leadership}", "roster[1].name"),
        ("level: township ", "level: galaxy ", "inspected_unit.level"),
    ],
)
def test_invalid_round_names_the_field(old: str, new: str, field: str) -> None:
    assert old in BASE
    with pytest.raises(RoundFileError) as info:
        parse_round(BASE.replace(old, new))
    assert info.value.field == field
    assert field in str(info.value)


def test_unreadable_round_file(tmp_path) -> None:
    with pytest.raises(RoundFileError):
        load_round(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("round: [unclosed", encoding="utf-8")
    with pytest.raises(RoundFileError):
        load_round(bad)
