"""An inspection round as configured by a round file (see config/round.example.yaml).

The round file is the service's own configuration format and a fixed contract: fields may be
added, never required anew. Loading validates every field and names the one that is wrong.
"""

from __future__ import annotations

import hashlib
import re
import string
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
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,38}[a-z0-9]")
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
    # `round.slug` when the file gives one (else derived when the round is stored, see
    # intake.rounds.derive_slug); the round's public pages live under /r/SLUG/.
    slug: str = ""
    # Every unit the round inspects, each as written in the file. `unit` above is their union
    # (the first unit's name and level; all places and subordinates), which the classifier
    # reads, so that each unit's people and villages are the round's own.
    units: tuple[InspectedUnit, ...] = ()
    # How the round numbers its leads and transfer letters (`round.numbering.lead/transfer`,
    # placeholders {prefix}, {year}, {n}; intake.leads.format_number). Empty: the defaults.
    lead_format: str = ""
    transfer_format: str = ""

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
    u = _mapping(doc, "inspected_unit", required="inspected_units" not in doc)
    scope = _mapping(doc, "scope")
    hotline = _mapping(r, "hotline", "round.hotline", required=False)
    calendar = _mapping(r, "calendar", "round.calendar", required=False)

    opens = _datetime(r, "opens", "round.opens")
    closes = _datetime(r, "closes", "round.closes")
    if closes <= opens:
        raise RoundFileError("截止时间必须晚于开始时间", "round.closes")

    units = [_unit(u, "inspected_unit")] if u else []
    units_raw = doc.get("inspected_units") or []
    if not isinstance(units_raw, list):
        raise RoundFileError("应为列表", "inspected_units")
    roster_raw = doc.get("roster") or []
    if not isinstance(roster_raw, list):
        raise RoundFileError("应为列表", "roster")
    roster = [_member(entry, f"roster[{i}]") for i, entry in enumerate(roster_raw)]
    for i, extra in enumerate(units_raw):
        where = f"inspected_units[{i}]"
        if not isinstance(extra, dict):
            raise RoundFileError("应为映射", where)
        unit_i = _unit(extra, where)
        units.append(unit_i)
        members = extra.get("roster") or []
        if not isinstance(members, list):
            raise RoundFileError("应为列表", f"{where}.roster")
        for j, entry in enumerate(members):
            member = _member(entry, f"{where}.roster[{j}]")
            roster.append(member if member.place else RosterMember(
                member.name, member.post, member.role, unit_i.places[0] if unit_i.places
                else unit_i.short))
    if not units:
        raise RoundFileError("缺少此节或格式不对（应为映射）", "inspected_unit")
    unit = _union(units)
    slug = _text(r, "slug", "round.slug", required=False).lower()
    if slug and not SLUG_RE.fullmatch(slug):
        raise RoundFileError("只能用小写字母、数字和连字符，2 到 40 个字符，如 qingshan-2026-2",
                             "round.slug")

    numbering = _mapping(r, "numbering", "round.numbering", required=False)
    formats = {kind: _text(numbering, kind, f"round.numbering.{kind}", required=False)
               for kind in ("lead", "transfer")}
    for kind, fmt in formats.items():
        if fmt:
            _check_number_format(fmt, f"round.numbering.{kind}")

    roles = _texts(scope, "roles", "scope.roles")
    if not roles:
        raise RoundFileError("至少需要一个受理对象类别", "scope.roles")
    for i, role in enumerate(roles):
        if role not in ROLES:
            raise RoundFileError(f"未知类别 {role!r}", f"scope.roles[{i}]")

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
        slug=slug,
        units=tuple(units),
        lead_format=formats["lead"],
        transfer_format=formats["transfer"],
    )


NUMBER_FIELDS = frozenset({"prefix", "year", "n"})


def _check_number_format(fmt: str, where: str) -> None:
    """A numbering format uses {prefix}, {year} and {n} (with an optional width: {n:03d})."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(fmt) if name is not None}
        if not fields <= NUMBER_FIELDS or "n" not in fields:
            raise ValueError
        fmt.format(prefix="青山", year=2026, n=1)
    except (ValueError, KeyError, IndexError):
        raise RoundFileError("编号格式只能用 {prefix}、{year} 和 {n}（序号，必填，可写 {n:03d}），"
                             "如 青山巡线〔{year}〕{n:03d}号", where) from None


def _unit(u: dict[str, Any], where: str) -> InspectedUnit:
    level = _text(u, "level", f"{where}.level", required=False) or "township"
    if level not in UNIT_LEVELS:
        raise RoundFileError(f"应为 {', '.join(UNIT_LEVELS)} 之一", f"{where}.level")
    name = _text(u, "name", f"{where}.name")
    return InspectedUnit(
        name=name,
        short=_text(u, "short", f"{where}.short", required=False) or name,
        level=level,
        places=_texts(u, "places", f"{where}.places"),
        county=_text(u, "county", f"{where}.county", required=False),
        subordinates=_texts(u, "subordinates", f"{where}.subordinates"),
    )


def _union(units: list[InspectedUnit]) -> InspectedUnit:
    """One unit standing for all: the first one's name and level, every place and village."""
    if len(units) == 1:
        return units[0]
    first = units[0]

    def merged(values: list[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v for v in values if v))

    return InspectedUnit(
        name=first.name,
        short=first.short,
        level=first.level,
        places=merged([p for u in units for p in (*u.places, u.short)]),
        county=first.county or next((u.county for u in units if u.county), ""),
        subordinates=merged([s for u in units for s in u.subordinates]),
    )


def _member(entry: Any, where: str) -> RosterMember:
    if not isinstance(entry, dict):
        raise RoundFileError("应为映射", where)
    role = _text(entry, "role", f"{where}.role")
    if role not in ROLES:
        raise RoundFileError(f"未知类别 {role!r}", f"{where}.role")
    return RosterMember(
        name=_text(entry, "name", f"{where}.name"),
        post=_text(entry, "post", f"{where}.post"),
        role=role,
        place=_text(entry, "place", f"{where}.place", required=False),
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
