"""Two teams, each with a round of its own, for tests that every channel files an item under
the right round and offers an officer their own teams' rounds only.

The first team and round are the example round the `desk` fixture loads (县委第一巡察组,
青山镇); `add_round` writes a copy of that file for another team (or another round of a team)
and loads it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from intake.desk import Desk
from intake.rounds import RoundEntry, load_files
from tests.support import REPO, staff_client

TEAM_A = "县委第一巡察组"
TEAM_B = "县委第二巡察组"
BOXES_B = ("河西乡人民政府大院", "柳湾村村委会")
POSTAL_B = "河西乡邮政专用信箱 02 号"


def add_round(desk: Desk, folder: Path, *, slug: str = "hexi-2026-03", team: str = TEAM_B,
              name: str = "县委第二巡察组 2026年第二轮常规巡察") -> RoundEntry:
    """Load a round of `team` inspecting 河西乡, with its own mailbox, boxes and postal box."""
    source = (REPO / "config" / "round.example.yaml").read_text(encoding="utf-8")
    replaced = {
        "  name: 县委第一巡察组 2026年第二轮常规巡察": f"  name: {name}\n  slug: {slug}",
        "  team: 县委第一巡察组": f"  team: {team}",
        "xcz1@intake.example.cn": f"{slug}@intake.example.cn",
        "青山镇邮政专用信箱 01 号": POSTAL_B,
        "[青山镇人民政府大院, 东岭村村委会, 西坡村村委会, 南河村村委会, 北山社区服务中心]":
            "[" + ", ".join(BOXES_B) + "]",
        "places: [青山镇, 青山]": "places: [河西乡, 河西]",
    }
    for old, new in replaced.items():
        assert old in source, old
        source = source.replace(old, new)
    path = folder / f"{slug}.yaml"
    path.write_text(source, encoding="utf-8")
    load_files(desk.sessions, [path])
    desk.rounds.refresh(force=True)
    entry = desk.rounds.by_slug(slug)
    assert entry is not None
    return entry


def second_round_file(folder: Path) -> Path:
    """The example round file as 县委第二巡察组's (slug nanhu-2026, mailbox xcz2@), written to
    `folder`: the same places and roster, another team and mailbox."""
    source = (REPO / "config" / "round.example.yaml").read_text(encoding="utf-8")
    source = (source.replace("县委第一巡察组", TEAM_B)
              .replace(f"name: {TEAM_B} 2026年第二轮常规巡察",
                       f"name: {TEAM_B} 2026年第二轮常规巡察\n  slug: nanhu-2026")
              .replace("xcz1@", "xcz2@"))
    path = folder / "second.yaml"
    path.write_text(source, encoding="utf-8")
    return path


def first_round(desk: Desk) -> RoundEntry:
    entry = next(e for e in desk.rounds.all() if e.team == TEAM_A)
    return entry


def team_client(app: Flask, desk: Desk, username: str, role: str,
                teams: tuple[str, ...]) -> FlaskClient:
    """A client logged in as a new staff member of `teams`."""
    return staff_client(app, desk, username, role, teams)
