"""An inspection round as configured by a round file (see config/round.example.yaml).

The round file is the service's own configuration format and a fixed contract: fields may be
added, never required anew. Loading validates every field and names the one that is wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import yaml

ROLES = (
    "leadership",
    "subordinate_head",
    "key_post",
    "staff",
    "outside_official",
    "non_official",
    "unknown",
)
UNIT_LEVELS = ("township", "village", "county_department", "school", "hospital", "enterprise")


class RoundFileError(ValueError):
    """The round file is missing, unreadable or has an invalid field (named in `field`)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


@dataclass(frozen=True)
class HotlineHours:
    start: time
    end: time


@dataclass(frozen=True)
class RosterMember:
    name: str
    post: str
    role: str
    place: str = ""


@dataclass(frozen=True)
class InspectedUnit:
    name: str
    short: str
    level: str
    places: tuple[str, ...]
    county: str
    subordinates: tuple[str, ...]


@dataclass(frozen=True)
class Round:
    """One round: its window, channels, inspected unit, scope roles and roster."""

    name: str
    team: str
    opens: datetime
    closes: datetime
    hotline_number: str
    hotline_hours: tuple[HotlineHours, ...]
    mailbox: str
    postal_box: str
    suggestion_boxes: tuple[str, ...]
    unit: InspectedUnit
    scope_roles: tuple[str, ...]
    roster: tuple[RosterMember, ...]
    # Corrections to the official working-day calendar (an extension of the round file, for
    # years the installed calendar does not know yet): `round.calendar.holidays/workdays`.
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    source_sha256: str = ""
    source_text: str = field(default="", repr=False)

    def is_late(self, at: datetime) -> bool:
        """True when an item received at `at` arrived after intake closed."""
        return at > self.closes


def load_round(path: str | Path) -> Round:
    """Read and validate a round file; raise RoundFileError naming the bad field."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoundFileError(f"无法读取轮次文件 {p}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RoundFileError(f"轮次文件 {p} 不是 UTF-8 编码") from exc
    return parse_round(raw)


def parse_round(raw: str) -> Round:
    """Validate the text of a round file and build a Round."""
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise RoundFileError(f"YAML 格式错误: {exc}") from exc
    if not isinstance(doc, dict):
        raise RoundFileError("轮次文件应为映射 (mapping)")
    r = _mapping(doc, "round")
    u = _mapping(doc, "inspected_unit")
    scope = _mapping(doc, "scope")
    hotline = _mapping(r, "hotline", "round.hotline", required=False)
    calendar = _mapping(r, "calendar", "round.calendar", required=False)

    opens = _datetime(r, "opens", "round.opens")
    closes = _datetime(r, "closes", "round.closes")
    if closes <= opens:
        raise RoundFileError("截止时间必须晚于开始时间", "round.closes")

    level = _text(u, "level", "inspected_unit.level", required=False) or "township"
    if level not in UNIT_LEVELS:
        raise RoundFileError(f"应为 {', '.join(UNIT_LEVELS)} 之一", "inspected_unit.level")
    unit_name = _text(u, "name", "inspected_unit.name")
    unit = InspectedUnit(
        name=unit_name,
        short=_text(u, "short", "inspected_unit.short", required=False) or unit_name,
        level=level,
        places=_texts(u, "places", "inspected_unit.places"),
        county=_text(u, "county", "inspected_unit.county", required=False),
        subordinates=_texts(u, "subordinates", "inspected_unit.subordinates"),
    )

    roles = _texts(scope, "roles", "scope.roles")
    if not roles:
        raise RoundFileError("至少需要一个受理对象类别", "scope.roles")
    for i, role in enumerate(roles):
        if role not in ROLES:
            raise RoundFileError(f"未知类别 {role!r}", f"scope.roles[{i}]")

    roster_raw = doc.get("roster") or []
    if not isinstance(roster_raw, list):
        raise RoundFileError("应为列表", "roster")
    roster = []
    for i, entry in enumerate(roster_raw):
        where = f"roster[{i}]"
        if not isinstance(entry, dict):
            raise RoundFileError("应为映射", where)
        role = _text(entry, "role", f"{where}.role")
        if role not in ROLES:
            raise RoundFileError(f"未知类别 {role!r}", f"{where}.role")
        roster.append(
            RosterMember(
                name=_text(entry, "name", f"{where}.name"),
                post=_text(entry, "post", f"{where}.post"),
                role=role,
                place=_text(entry, "place", f"{where}.place", required=False),
            )
        )

    return Round(
        name=_text(r, "name", "round.name"),
        team=_text(r, "team", "round.team", required=False),
        opens=opens,
        closes=closes,
        hotline_number=_text(hotline, "number", "round.hotline.number", required=False),
        hotline_hours=tuple(
            _hours(h, f"round.hotline.hours[{i}]")
            for i, h in enumerate(_texts(hotline, "hours", "round.hotline.hours"))
        ),
        mailbox=_text(r, "mailbox", "round.mailbox", required=False),
        postal_box=_text(r, "postal_box", "round.postal_box", required=False),
        suggestion_boxes=_texts(r, "suggestion_boxes", "round.suggestion_boxes"),
        unit=unit,
        scope_roles=roles,
        roster=tuple(roster),
        holidays=_dates(calendar, "holidays", "round.calendar.holidays"),
        workdays=_dates(calendar, "workdays", "round.calendar.workdays"),
        source_sha256=hashlib.sha256(raw.encode("utf-8")).hexdigest(),
        source_text=raw,
    )


def _mapping(doc: dict[str, Any], key: str, where: str = "", *, required: bool = True) -> dict:
    value = doc.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise RoundFileError("缺少此节或格式不对（应为映射）", where or key)
    return value


def _text(doc: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = doc.get(key)
    if value is None or value == "":
        if required:
            raise RoundFileError("必填", where)
        return ""
    if not isinstance(value, (str, int)):
        raise RoundFileError("应为文字", where)
    return str(value).strip()


def _texts(doc: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = doc.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise RoundFileError("应为文字列表", where)
    return tuple(str(v).strip() for v in value)


def _datetime(doc: dict[str, Any], key: str, where: str) -> datetime:
    value = doc.get(key)
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        raise RoundFileError("需要带时间和时区的时刻，如 2026-03-02T08:00+08:00", where)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise RoundFileError(f"时间格式不对: {value!r}", where) from exc
    else:
        raise RoundFileError("必填", where)
    if parsed.tzinfo is None:
        raise RoundFileError("时间必须带时区，如 +08:00", where)
    return parsed


def _dates(doc: dict[str, Any], key: str, where: str) -> frozenset[date]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise RoundFileError("应为日期列表，如 [2027-01-01]", where)
    days = set()
    for i, item in enumerate(value):
        if isinstance(item, datetime) or not isinstance(item, (date, str)):
            raise RoundFileError("应为日期，如 2027-01-01", f"{where}[{i}]")
        try:
            days.add(item if isinstance(item, date) else date.fromisoformat(item.strip()))
        except ValueError as exc:
            raise RoundFileError(f"日期格式不对: {item!r}", f"{where}[{i}]") from exc
    return frozenset(days)


def _hours(text: str, where: str) -> HotlineHours:
    try:
        start_s, end_s = text.split("-")
        start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
    except ValueError as exc:
        raise RoundFileError(f"应为 HH:MM-HH:MM，而不是 {text!r}", where) from exc
    if end <= start:
        raise RoundFileError("结束时间必须晚于开始时间", where)
    return HotlineHours(start, end)
