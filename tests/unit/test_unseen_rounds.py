"""bench/classify_unseen.py: texts moved into an invented round keep no name of the old one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from intake.round import load_round

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "round.example.yaml"


def _bench():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location("classify_unseen",
                                                      ROOT / "bench" / "classify_unseen.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module
    finally:
        sys.path.remove(str(ROOT / "bench"))


@pytest.mark.parametrize("name", ["moved_a", "moved_b"])
def test_moved_text_names_only_the_new_round(name: str) -> None:
    old = load_round(EXAMPLE)
    new = load_round(ROOT / "bench" / "rounds" / f"{name}.yaml")
    move = _bench().mover(old, new)
    first, village = old.roster[0], old.roster[8]
    text = (f"{old.unit.county}{old.unit.places[0]}{village.place}的{village.name[0]}支书"
            f"和{first.name}、{first.name[1:]}书记，还有{' '.join(village.place)}")
    moved = move(text)
    for word in (old.unit.county, old.unit.places[0], village.place, village.name,
                 first.name, first.name[1:] + "书记", village.name[0] + "支书"):
        assert word not in moved
    assert new.roster[0].name in moved and new.roster[8].name[0] + "支书" in moved
    # OCR spacing is kept: the spaced village comes out spaced.
    assert " ".join(new.roster[8].place) in moved
