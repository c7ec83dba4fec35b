"""Intake statistics: counts of items by channel, status, discipline, subject group, route,
day, place (unit or village), scope, disposal, reporter kind, round and team, and the overdue,
repeat, lead and transfer counts, for the staff API's `/stats`, the 统计 page, its charts and
workbook (intake.charts, intake.statsbook) and the weekly report.

Counts come from GROUP BY queries on the submissions' columns, the labels table and the
current classification's first subject; no item text is read, and no key is ever free text
(a place is one the round file names). Spam is left out of every count but `by_status`. Who may
count what: team roles count under their scope (intake.scope keeps them to their teams'
rounds); the office (巡察办) counts across all teams, past the scope, because counts carry no
text.

The place an item concerns (`by_unit`), counting at most PLACE_ROUNDS rounds (a team's): its
first subject's roster entry's place when the classifier (or a triager) matched a person of
the round's roster; else the first of the round file's villages or communities
(`subordinates`), then of its units' place names, found in that subject's post or in the unit
the reporter named on the form; else `unknown`. A village counts as "township+village"
(青山镇东岭村), the unit itself as "township（本级）" (青山镇（本级）). Counting more rounds (an
office's year), an item counts under the unit(s) its round inspected (青山镇).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session

from intake import scope
from intake.classify import DISCIPLINES
from intake.items import Period, QueryError, overdue_cuts, parse_round, zone_of
from intake.round import Round
from intake.rounds import RoundEntry, RoundRegistry
from intake.store import models as m
from intake.triage import late_steps
from intake.workdays import CHINA

# Roles whose counts span every team (the scope would show them no item at all).
ACROSS_TEAMS = ("office",)


SCOPES = ("in", "out", "pending", "unknown")
PENDING = "pending"  # awaiting triage: in or out of scope is not decided yet
REPORTERS = ("named", "anonymous")
UNKNOWN = "unknown"  # a code or place not known (no suggestion yet, no place found)
# Counting more rounds than this (an office's year), `by_unit` is by the rounds' inspected
# units, from the counts by round: villages are a team's concern, and resolving every item's
# subject across a million items would take seconds.
PLACE_ROUNDS = 12


def db_counts(session: Session, round_ids: Collection[int] | None, period: Period,
              zone: tzinfo = CHINA, *, rounds: RoundRegistry | None = None,
              now: datetime | None = None) -> dict[str, Any]:
    """The counts of items received in `period` in these rounds (None: every round the
    session's scope lets it see). `by_day` keys are dates `YYYY-MM-DD` in `zone`.

    The contract's keys (`total`, `by_channel`, `by_status`, `by_discipline`,
    `by_subject_role`, `by_route`, `by_day`) come always; then `by_scope`, `by_disposal`
    (closed items), `by_reporter` (named, anonymous), `by_round` (slugs), `by_team`, `repeats`,
    `leads` and `transfers` (of the items counted); with `rounds` (the registry: round files)
    `by_unit`, and with `rounds` and `now` `overdue` (items with a step past its limit now,
    as the queue's overdue filter finds them)."""
    sub = m.Submission

    def grouped(column: Any, *, spam: bool = False, labels: str = "") -> dict[str, int]:
        stmt: Select = select(column, func.count()).select_from(sub)
        if labels:
            # Kept to rounds (labelled() below): walk the rounds' items and look up each one's
            # labels by primary key. Comparing the kind through a function keeps SQLite
            # (without ANALYZE) off the labels' kind index, whose scan would probe the item
            # of every label of every round: seconds at a million items, not milliseconds.
            label = m.SubmissionLabel
            stmt = stmt.join(label, (label.submission_id == sub.id)
                             & (func.coalesce(label.kind, "") == labels))
        stmt = _where(stmt, round_ids, period, spam=spam).group_by(column)
        counts: dict[str, int] = {}
        for key, count in session.execute(stmt):
            name = UNKNOWN if key is None else str(key)  # no suggestion yet: not known
            counts[name] = counts.get(name, 0) + count
        return counts

    def labelled(kind: str) -> dict[str, int]:
        """Items per label. Without a round to keep to, from the labels' own index (which
        has the receipt time) less the spam items' labels, found from the few spam items:
        not a probe of the item behind each of a million labels."""
        if round_ids is not None:
            return grouped(m.SubmissionLabel.value, labels=kind)
        label = m.SubmissionLabel
        stmt: Select = select(label.value, func.count()).where(label.kind == kind)
        if period.since is not None:
            stmt = stmt.where(label.received_at >= period.since)
        if period.until is not None:
            stmt = stmt.where(label.received_at < period.until)
        found = dict(session.execute(stmt.group_by(label.value)).all())
        spam = _where(select(label.value, func.count()).select_from(sub).join(
            label, (label.submission_id == sub.id) & (label.kind == kind)), None, period,
            spam=True).where(sub.status == "spam").group_by(label.value)
        for value, n in session.execute(spam):
            found[value] -= n
        return {str(k): int(n) for k, n in found.items() if n}

    def counted(stmt: Select) -> int:
        return int(session.scalar(_where(stmt, round_ids, period, spam=False)) or 0)

    columns = _Columns(session, round_ids, period)
    found: dict[str, Any] = {
        "total": sum(n for status, n in columns.by_status.items() if status != "spam"),
        "by_channel": _with_zeros(m.CHANNELS, columns.by_channel),
        "by_status": _with_zeros(m.STATUSES, columns.by_status),
        "by_discipline": _with_zeros(DISCIPLINES, labelled("discipline")),
        "by_subject_role": _with_zeros(m.SUBJECT_ROLES, columns.by_subject_role),
        "by_route": dict(sorted(labelled("route").items())),
        "by_day": _db_by_day(session, grouped, zone),
        "by_scope": _with_zeros(SCOPES, columns.by_scope),
        "by_disposal": _with_zeros(m.DISPOSALS, columns.by_disposal),
        "by_reporter": _with_zeros(REPORTERS, columns.by_reporter),
        **_by_round_and_team(session, columns.by_round),
        "repeats": counted(select(func.count()).select_from(sub).where(
            sub.repeat_of_id.is_not(None))),
        "leads": counted(select(func.count()).select_from(m.Lead).join(
            sub, sub.id == m.Lead.submission_id)),
        "transfers": counted(select(func.count()).select_from(m.Transfer).join(
            sub, sub.id == m.Transfer.submission_id)),
    }
    if rounds is not None:
        found["by_unit"] = (
            _db_by_unit(session, rounds, round_ids, period)
            if len(columns.by_round) <= PLACE_ROUNDS
            else _by_inspected_unit(rounds, columns.by_round))
        if now is not None:
            chosen = rounds.all() if round_ids is None else [
                e for e in rounds.all() if e.id in set(round_ids)]
            found["overdue"] = counted(select(func.count()).select_from(sub).where(
                _overdue_now(chosen, now)))
    return found


class _Columns:
    """The counts by the submissions' own columns, from one GROUP BY over all of them (spam
    included, for `by_status`), rolled up here: one pass over the rows instead of one each."""

    def __init__(self, session: Session, round_ids: Collection[int] | None,
                 period: Period) -> None:
        sub = m.Submission
        # In the order of the index ix_submissions_stats, which holds them all: the groups
        # come from one scan of the index in its order, with no sort and no table row read.
        keys = (sub.round_id, sub.status, sub.channel, sub.in_scope, sub.subject_role,
                sub.disposal, sub.anonymous)
        stmt = _where(select(*keys, func.count()).select_from(sub), round_ids, period,
                      spam=True).group_by(*keys)
        tallies: dict[str, dict[str, int]] = {name: {} for name in (
            "round", "channel", "status", "scope", "role", "disposal", "reporter")}

        def add(name: str, key: str, n: int) -> None:
            tallies[name][key] = tallies[name].get(key, 0) + n

        for round_id, status, channel, in_scope, role, disposal, anonymous, n in (
                session.execute(stmt)):
            add("status", status, n)
            if status == "spam":
                continue
            add("round", str(round_id), n)
            add("channel", channel, n)
            # what triage decided; an item still awaiting triage has only a suggestion
            add("scope", PENDING if status == "received" else UNKNOWN if in_scope is None
                else "in" if in_scope else "out", n)
            add("role", role or UNKNOWN, n)
            if disposal:
                add("disposal", disposal, n)
            add("reporter", "anonymous" if anonymous else "named", n)
        self.by_round = {int(k): v for k, v in tallies["round"].items()}
        self.by_channel, self.by_status = tallies["channel"], tallies["status"]
        self.by_scope, self.by_subject_role = tallies["scope"], tallies["role"]
        self.by_disposal, self.by_reporter = tallies["disposal"], tallies["reporter"]


def _by_round_and_team(session: Session, by_round: dict[int, int]) -> dict[str, Any]:
    """`by_round` (slug: count) and `by_team` (team name: count), biggest first."""
    names = {rid: (slug, team) for rid, slug, team in session.execute(
        select(m.Round.id, m.Round.slug, m.Team.name).join(m.Team, m.Team.id == m.Round.team_id)
        .where(m.Round.id.in_(list(by_round))))}
    rounds: dict[str, int] = {}
    teams: dict[str, int] = {}
    for rid, n in by_round.items():
        slug, team = names.get(rid, (str(rid), UNKNOWN))
        rounds[slug] = rounds.get(slug, 0) + n
        teams[team] = teams.get(team, 0) + n
    return {"by_round": _biggest_first(rounds), "by_team": _biggest_first(teams)}


def _biggest_first(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _overdue_now(entries: Iterable[RoundEntry], now: datetime) -> Any:
    """Items with a step past its limit at `now` (intake.triage's overdue filter). Rounds on the
    same calendar and zone share their limits, so an office's hundreds of rounds make a few
    conditions (`round_id IN …`), not one each."""
    groups: dict[tuple[Any, ...], list[RoundEntry]] = {}
    for entry in entries:
        key = (str(zone_of(entry.cfg)), entry.cfg.holidays, entry.cfg.workdays)
        groups.setdefault(key, []).append(entry)
    sub = m.Submission
    conditions = []
    for members in groups.values():
        (cut,) = overdue_cuts(members[:1], now)
        conditions.append(and_(sub.round_id.in_([e.id for e in members]),
                               late_steps(sub, sub.received_at, cut)))
    return or_(false(), *conditions)


# -- places ----------------------------------------------------------------------------------


class _Places:
    """A round file's places: roster names to their place, villages and unit names to the
    counting key of the village or unit."""

    def __init__(self, cfg: Round) -> None:
        units = cfg.units or (cfg.unit,)
        self.keys: list[tuple[str, str]] = []  # (a name found in text, its key), longest first
        for unit in units:
            home = unit.places[0] if unit.places else unit.short
            self.keys += [(village, f"{home}{village}") for village in unit.subordinates]
        villages = len(self.keys)
        for unit in units:
            home = unit.places[0] if unit.places else unit.short
            self.keys += [(place, f"{home}（本级）") for place in (*unit.places, unit.short)
                          if place]
        # Villages first (a post "东岭村党支部书记" names no township), each group longest first.
        self.keys = (sorted(self.keys[:villages], key=lambda k: -len(k[0]))
                     + sorted(self.keys[villages:], key=lambda k: -len(k[0])))
        # A roster member without a place (a single-unit file's township leaders) is of
        # the first unit itself.
        first = units[0].places[0] if units[0].places else units[0].short
        self.roster = {member.name: member.place or first for member in cfg.roster}

    def key(self, name: str | None, post: str | None, unit: str | None) -> str:
        place = self.roster.get(name or "")
        for text in (place, post, unit):
            if text:
                for found, key in self.keys:
                    if found in text:
                        return key
        return UNKNOWN


def _by_inspected_unit(rounds: RoundRegistry, by_round: dict[int, int]) -> dict[str, int]:
    """Counts by the units the counted rounds inspected (青山镇; 白石镇、云岭乡 for a round of
    two), biggest first."""
    counts: dict[str, int] = {}
    for round_id, n in by_round.items():
        entry = rounds.get(round_id)
        key = UNKNOWN
        if entry is not None:
            units = entry.cfg.units or (entry.cfg.unit,)
            key = "、".join(u.places[0] if u.places else u.short for u in units)
        counts[key] = counts.get(key, 0) + n
    unknown = counts.pop(UNKNOWN, 0)
    return {**_biggest_first(counts), **({UNKNOWN: unknown} if unknown else {})}


def _db_by_unit(session: Session, rounds: RoundRegistry, round_ids: Collection[int] | None,
                period: Period) -> dict[str, int]:
    """Counts by the place each item concerns (see the module's docstring), biggest first,
    `unknown` last. Grouped in the database by round, first subject and form unit, so the
    rows read are the distinct persons and units, not the items."""
    sub, cls = m.Submission, m.Classification
    if session.get_bind().dialect.name == "sqlite":  # one call, not JSON_QUOTE(…) around it
        name: Any = func.json_extract(cls.subjects, "$[0].name")
        post: Any = func.json_extract(cls.subjects, "$[0].post")
    else:
        name, post = cls.subjects[0]["name"].as_string(), cls.subjects[0]["post"].as_string()
    keys = (sub.round_id, name, post, sub.subject_unit)
    stmt = _where(select(*keys, func.count()).select_from(sub).outerjoin(
        cls, cls.id == sub.current_classification_id), round_ids, period, spam=False)
    places: dict[int, _Places | None] = {}
    counts: dict[str, int] = {}
    for round_id, who, what, unit, n in session.execute(stmt.group_by(*keys)):
        if round_id not in places:
            entry = rounds.get(round_id)
            places[round_id] = _Places(entry.cfg) if entry is not None else None
        index = places[round_id]
        key = index.key(who, what, unit) if index is not None else UNKNOWN
        counts[key] = counts.get(key, 0) + n
    unknown = counts.pop(UNKNOWN, 0)
    return {**_biggest_first(counts), **({UNKNOWN: unknown} if unknown else {})}


def db_viewer_counts(session: Session, viewer: scope.Viewer, round_ids: Collection[int] | None,
                     period: Period, zone: tzinfo = CHINA, *, rounds: RoundRegistry | None = None,
                     now: datetime | None = None) -> dict[str, Any]:
    """`db_counts` as `viewer` may see them: the office across all teams (past the scope, which
    shows it no item), everyone else within their scope."""
    if viewer.role in ACROSS_TEAMS:
        with scope.unscoped(session):
            return db_counts(session, round_ids, period, zone, rounds=rounds, now=now)
    if round_ids is None:  # the scope keeps them to these anyway; named, the rounds drive
        round_ids = sorted(viewer.round_ids)  # the queries (a team among a million items)
    return db_counts(session, round_ids, period, zone, rounds=rounds, now=now)


def db_pick_rounds(session: Session, rounds: RoundRegistry,
                   args: Mapping[str, str]) -> list[int] | None:
    """The rounds `round=SLUG` and `team=NAME` narrow counts to (None: every round the viewer
    may count); QueryError for a round or team that does not exist."""
    entry = parse_round(args, rounds)
    team = args.get("team", "").strip()
    if not team:
        return [entry.id] if entry is not None else None
    team_id = session.scalar(select(m.Team.id).where(m.Team.name == team))
    if team_id is None:
        raise QueryError("team", f"没有巡察组「{team}」。")
    return [e.id for e in rounds.all()
            if e.team_id == team_id and (entry is None or e.id == entry.id)]


def _where(stmt: Select, round_ids: Collection[int] | None, period: Period, *,
           spam: bool) -> Select:
    sub = m.Submission
    if not spam:
        stmt = stmt.where(sub.status != "spam")
    if round_ids is not None:
        stmt = stmt.where(sub.round_id.in_(list(round_ids)))
    if period.since is not None:
        stmt = stmt.where(sub.received_at >= period.since)
    if period.until is not None:
        stmt = stmt.where(sub.received_at < period.until)
    return stmt


def _db_by_day(session: Session, grouped: Any, zone: tzinfo) -> dict[str, int]:
    """Counts per local day. On SQLite, per UTC hour (a prefix of the stored text: no date
    function per row, half the time at a million items), added up into local days here."""
    offset = zone.utcoffset(None) or timedelta()
    if session.get_bind().dialect.name != "sqlite" or offset % timedelta(hours=1):
        return dict(sorted(grouped(_local_day(session, m.Submission.received_at, zone)).items()))
    days: dict[str, int] = {}
    for hour, n in grouped(func.substr(m.Submission.received_at, 1, 13)).items():
        day = (datetime.fromisoformat(f"{hour}:00") + offset).date().isoformat()
        days[day] = days.get(day, 0) + n
    return dict(sorted(days.items()))


def _local_day(session: Session, column: Any, zone: tzinfo) -> ColumnElement[Any]:
    """The date of a UTC timestamp column in `zone` (a fixed offset), as `YYYY-MM-DD` text."""
    offset = zone.utcoffset(None) or timedelta()
    minutes = int(offset.total_seconds() // 60)
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, f"{minutes:+d} minutes")
    return func.to_char(column + func.make_interval(0, 0, 0, 0, 0, minutes), "YYYY-MM-DD")


def _with_zeros(codes: Collection[str], found: dict[str, int]) -> dict[str, int]:
    """Every known code (0 when none), then any other found (e.g. an old code)."""
    return {**dict.fromkeys(codes, 0), **found}


# -- what each count is called ---------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One count of `db_counts` as people read it: its key, a Chinese title, the Chinese name of
    each code, and whether it is a count per day (a time series) or per category."""

    key: str
    title: str
    names: Mapping[str, str]
    daily: bool = False
    # Shares of the section's own sum rather than of all items: counts not every item has
    # (disposals: closed items only) or that spam joins (statuses).
    own_base: bool = False

    def base(self, counts: Mapping[str, Any]) -> int:
        """What a row's share (占比) is of."""
        if self.own_base:
            return sum(int(n) for n in counts.get(self.key, {}).values())
        return int(counts.get("total", 0))

    @property
    def slug(self) -> str:
        """Its name in URLs (`/staff/stats/chart/channel.svg`)."""
        return self.key.removeprefix("by_")

    def rows(self, counts: Mapping[str, Any]) -> list[tuple[str, int]]:
        """(Chinese name, count) in the count's order; a code without a name keeps its code."""
        return [(self.names.get(k, k), int(n)) for k, n in counts.get(self.key, {}).items()]


SCOPE_NAMES = {"in": "属于受理范围", "out": "不属于受理范围", "pending": "待研判",
               "unknown": "未定"}
REPORTER_NAMES = {"named": "实名", "anonymous": "匿名"}
# The headline figures (scalars of db_counts) with their Chinese names, in reading order.
FIGURES = (("total", "收件（不含疑似垃圾）"), ("leads", "受理为线索"), ("transfers", "转办"),
           ("repeats", "重复件"), ("overdue", "超期未办"))


def sections(departments: Mapping[str, str], round_names: Mapping[str, str] | None = None
             ) -> tuple[Section, ...]:
    """Every count of `db_counts` a page, chart or workbook shows, in reading order.
    `departments`: the routing rules' department names (routes); `round_names`: slug → the
    round's name."""
    from intake.leads import DISPOSAL_NAMES  # intake.leads is heavier; names only
    from intake.names import CHANNEL_NAMES, STATUS_NAMES, SUBJECT_ROLE_SHORT
    from intake.submission import CATEGORIES

    return (
        Section("by_day", "按收到日期", {}, daily=True),
        Section("by_channel", "按受理渠道", CHANNEL_NAMES),
        Section("by_status", "按办理状态（含疑似垃圾信息）", STATUS_NAMES, own_base=True),
        Section("by_scope", "按是否属于受理范围", SCOPE_NAMES),
        Section("by_discipline", "按反映的违纪类别（一件可涉及多类）", CATEGORIES),
        Section("by_subject_role", "按被反映人类别", {**SUBJECT_ROLE_SHORT, UNKNOWN: "不明"}),
        Section("by_unit", "按涉及的单位或村（社区）", {UNKNOWN: "未能确定"}),
        Section("by_route", "按去向（一件可有多个去向）", {
            code: short_department(name) for code, name in departments.items()}),
        Section("by_disposal", "按办结方式（占已办结件）", DISPOSAL_NAMES, own_base=True),
        Section("by_reporter", "实名与匿名", REPORTER_NAMES),
        Section("by_team", "按巡察组", {UNKNOWN: "不明"}),
        Section("by_round", "按巡察轮次", dict(round_names or {})),
    )


def short_department(name: str) -> str:
    """A routing rule's department name before its explanations: "人社局（劳动保障监察…）"
    → "人社局", "县纪委监委 / 乡镇纪委 / 派驻纪检监察组" → "县纪委监委"."""
    return name.split("（")[0].split(" / ")[0].strip() or name


def fill_days(days: dict[str, int]) -> list[tuple[date, int]]:
    """Every day from the first to the last counted, 0 where none came."""
    if not days:
        return []
    found = {date.fromisoformat(k): n for k, n in days.items()}
    first, last = min(found), max(found)
    return [(first + timedelta(days=i), found.get(first + timedelta(days=i), 0))
            for i in range((last - first).days + 1)]
