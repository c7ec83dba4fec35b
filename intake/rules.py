"""Routing rules: load `routing_rules/*.yaml`, validate them against their JSON schemas.

Rules are data (departments, discipline lexicons, post words, routes). A file that fails its
schema, holds a pattern that is not a valid regular expression, or names a department code
that does not exist stops loading with a `RulesError` naming the file and the field.
`check_rules()` reports every problem at once for `intake rules check`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

RULE_FILES = ("departments", "disciplines", "posts", "routes")
ROUTE_KINDS = ("route", "archive")


class RulesError(ValueError):
    """A routing rule file is missing or invalid; `file` and `field` say where."""

    def __init__(self, message: str, file: str = "", field: str = "") -> None:
        where = ": ".join(p for p in (file, field) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DisciplineLexicon:
    """Conduct patterns of one discipline, with the regulation chapter they come from."""

    code: str
    name: str
    chapter: str
    patterns: tuple[str, ...]
    # Pairs of word classes that allege the conduct when both stand close together in one
    # sentence, in either order ("低保" … "亲戚"): how people say it in their own words.
    together: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PostRule:
    """A post pattern and the role it suggests; `level` is unit, outside or private.
    `village_role`, when set, is the role of a post said in a village's context ("刘书记" after
    "村里"), `role` the one in the township's."""

    pattern: str
    role: str
    level: str
    village_role: str = ""


@dataclass(frozen=True)
class Title:
    """A short form of address ("书记") and the post words that earn it."""

    title: str
    found_in: tuple[str, ...]


@dataclass(frozen=True)
class RouteRule:
    """Patterns that send an item (or part of it) to one department."""

    id: str
    department: str
    priority: int
    patterns: tuple[str, ...]
    unless: tuple[str, ...] = ()
    also_in_scope: bool = False
    kind: str = "route"
    # Goes ahead of the discipline departments when a breach is alleged (a complaint about
    # the inspection team itself is for the level above, whoever it accuses).
    before_discipline: bool = False


@dataclass(frozen=True)
class RuleSet:
    """Every routing rule, validated; load once with `load_rules()` and keep it."""

    departments: dict[str, str]
    disciplines: dict[str, DisciplineLexicon]
    negation_cues: tuple[str, ...]
    hedge_cues: tuple[str, ...]
    rhetorical_cues: tuple[str, ...]
    negation_window: int
    posts: tuple[PostRule, ...]
    surnames: str
    titles: tuple[Title, ...]
    place_suffixes: tuple[str, ...]
    unit_place_suffixes: tuple[str, ...]
    not_name_end: str
    not_place_names: tuple[str, ...]
    place_boundary: str
    not_subject_before: tuple[str, ...]
    not_subject_after: tuple[str, ...]
    routes: tuple[RouteRule, ...]
    discipline_routes: dict[str, tuple[str, ...]]
    fallback: str
    empty: str
    min_chars: int = 6
    # Set phrases beginning with a hedge word that hedge nothing ("可能影响公正执行公务").
    not_hedge_phrases: tuple[str, ...] = ()
    # Characters that end no place name before one suffix only ("山区", "门市"), though
    # they end many before others ("青山镇", "石门村").
    not_name_end_before: dict[str, str] = field(default_factory=dict)
    # Regular expressions for the context of a mention (posts.yaml `contexts`), by key.
    subject_contexts: dict[str, str] = field(default_factory=dict)
    # Wrongdoing in general, whatever the discipline (disciplines.yaml `accusation`): conduct
    # cues ("吞了", "给亲戚") and complaint frames ("举报…", "要求查处"); "…" is the gap.
    accusation_patterns: tuple[str, ...] = ()
    complaint_frames: tuple[str, ...] = ()
    # How far apart (characters) the two halves of a `together` pair may stand.
    together_distance: int = 20
    # Signs that a text naming a scope-role person accuses nobody: praise, a question, a
    # request for a service ("表扬", "请问", "能不能").
    not_accusing: tuple[str, ...] = ()
    # Misspellings and homophones of key words → the word (same length, so offsets hold).
    spellings: dict[str, str] = field(default_factory=dict)
    directory: str = field(default="", compare=False)


def default_directory() -> Path:
    """The repository's own `routing_rules/` directory."""
    return Path(__file__).resolve().parent.parent / "routing_rules"


def load_rules(directory: Path | str | None = None) -> RuleSet:
    """Load and validate the rule files; raise RulesError naming the first bad file and field."""
    rules, problems = _load(Path(directory) if directory else default_directory())
    if problems:
        raise problems[0]
    assert rules is not None  # no problems means everything was built
    return rules


def check_rules(directory: Path | str | None = None) -> list[str]:
    """Every problem of the rule files as "file: field: message" lines; empty when valid."""
    _, problems = _load(Path(directory) if directory else default_directory())
    return [str(p) for p in problems]


# --- loading ---------------------------------------------------------------------------


def _load(directory: Path) -> tuple[RuleSet | None, list[RulesError]]:
    problems: list[RulesError] = []
    docs: dict[str, dict[str, Any]] = {}
    for name in RULE_FILES:
        doc = _read_valid(directory, name, problems)
        if doc is not None:
            docs[name] = doc
    if len(docs) < len(RULE_FILES):
        return None, problems

    departments = {str(k): str(v) for k, v in docs["departments"]["departments"].items()}
    disc_doc, posts_doc, routes_doc = docs["disciplines"], docs["posts"], docs["routes"]
    gap = disc_doc["gap"]
    # Named slots ("{kin}", "{money}") stand for word classes, so a pattern says
    # "a relative … wins a contract" once instead of once per relative.
    slots = {f"{{{k}}}": f"(?:{v})" for k, v in disc_doc.get("slots", {}).items()}

    def expand(pattern: str) -> str:
        for key, value in slots.items():
            pattern = pattern.replace(key, value)
        return pattern.replace("…", gap)

    surname_class = "[" + re.escape(posts_doc["surnames"]) + "]"

    disciplines = {}
    for code, entry in disc_doc["disciplines"].items():
        patterns = tuple(expand(p) for p in entry["patterns"])
        for i, p in enumerate(patterns):
            _check_regex(p, "disciplines.yaml", f"disciplines.{code}.patterns[{i}]", problems)
        together = tuple((expand(a), expand(b)) for a, b in entry.get("together", []))
        for i, pair in enumerate(together):
            for j, p in enumerate(pair):
                _check_regex(p, "disciplines.yaml", f"disciplines.{code}.together[{i}][{j}]",
                             problems)
        disciplines[code] = DisciplineLexicon(code, entry["name"], entry["chapter"], patterns,
                                              together)

    posts = []
    for i, entry in enumerate(posts_doc["posts"]):
        pattern = entry["pattern"].replace("{surname}", surname_class)
        _check_regex(pattern, "posts.yaml", f"posts[{i}].pattern", problems)
        posts.append(PostRule(pattern, entry["role"], entry["level"],
                              entry.get("village_role", "")))
    contexts = dict(posts_doc.get("contexts", {}))
    for key, pattern in contexts.items():
        _check_regex(pattern, "posts.yaml", f"contexts.{key}", problems)

    routes = []
    for i, entry in enumerate(routes_doc["rules"]):
        where = f"rules[{i}]"
        if entry["department"] not in departments:
            problems.append(RulesError(f"未知部门代码 {entry['department']!r}",
                                       "routes.yaml", f"{where}.department"))
        for key in ("patterns", "unless"):
            for j, p in enumerate(entry.get(key, [])):
                _check_regex(p, "routes.yaml", f"{where}.{key}[{j}]", problems)
        routes.append(RouteRule(
            id=entry["id"], department=entry["department"], priority=entry["priority"],
            patterns=tuple(entry["patterns"]), unless=tuple(entry.get("unless", [])),
            also_in_scope=bool(entry.get("also_in_scope", False)),
            kind=entry.get("kind", "route"),
            before_discipline=bool(entry.get("before_discipline", False)),
        ))
    ids = [r.id for r in routes]
    for i, rid in enumerate(ids):
        if rid in ids[:i]:
            problems.append(RulesError(f"规则编号重复 {rid!r}", "routes.yaml", f"rules[{i}].id"))
    for key in ("fallback", "empty"):
        if routes_doc[key] not in departments:
            problems.append(RulesError(f"未知部门代码 {routes_doc[key]!r}", "routes.yaml", key))
    discipline_routes = {}
    for role, codes in routes_doc["discipline_routes"].items():
        for j, code in enumerate(codes):
            if code not in departments:
                problems.append(RulesError(f"未知部门代码 {code!r}", "routes.yaml",
                                           f"discipline_routes.{role}[{j}]"))
        discipline_routes[role] = tuple(codes)
    if problems:
        return None, problems

    accusation = disc_doc.get("accusation", {})
    accusation_patterns = tuple(expand(p) for p in accusation.get("patterns", []))
    complaint_frames = tuple(expand(p) for p in accusation.get("frames", []))
    not_accusing = tuple(expand(p) for p in accusation.get("not_accusing", []))
    spellings = {str(k): str(v) for k, v in disc_doc.get("spellings", {}).items()}
    for wrong, right in spellings.items():
        if len(wrong) != len(right):
            problems.append(RulesError("写法与正字长度须相同", "disciplines.yaml",
                                       f"spellings.{wrong}"))
    for key, patterns in (("patterns", accusation_patterns), ("frames", complaint_frames),
                          ("not_accusing", not_accusing)):
        for i, p in enumerate(patterns):
            _check_regex(p, "disciplines.yaml", f"accusation.{key}[{i}]", problems)
    if problems:
        return None, problems

    cues = disc_doc["cues"]
    places = posts_doc["places"]
    return RuleSet(
        departments=departments,
        disciplines=disciplines,
        negation_cues=tuple(cues["negation"]),
        hedge_cues=tuple(cues["hedge"]),
        rhetorical_cues=tuple(cues.get("rhetorical", [])),
        not_hedge_phrases=tuple(cues.get("not_hedge", [])),
        negation_window=int(cues["negation_window"]),
        posts=tuple(posts),
        surnames=posts_doc["surnames"],
        titles=tuple(Title(t["title"], tuple(t["found_in"])) for t in posts_doc["titles"]),
        place_suffixes=tuple(places["suffixes"]),
        unit_place_suffixes=tuple(places["unit_suffixes"]),
        not_name_end=places["not_name_end"],
        not_name_end_before=dict(places.get("not_name_end_before", {})),
        not_place_names=tuple(places.get("not_names", [])),
        place_boundary=places.get("boundary", ""),
        not_subject_before=tuple(posts_doc.get("not_subject_before", [])),
        not_subject_after=tuple(posts_doc.get("not_subject_after", [])),
        routes=tuple(routes),
        discipline_routes=discipline_routes,
        fallback=routes_doc["fallback"],
        empty=routes_doc["empty"],
        min_chars=int(routes_doc.get("min_chars", 6)),
        subject_contexts=contexts,
        accusation_patterns=accusation_patterns,
        complaint_frames=complaint_frames,
        not_accusing=not_accusing,
        together_distance=int(disc_doc.get("together_distance", 20)),
        spellings=spellings,
        directory=str(directory),
    ), []


def _read_valid(directory: Path, name: str, problems: list[RulesError]) -> dict | None:
    file = f"{name}.yaml"
    try:
        doc = yaml.safe_load((directory / file).read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(RulesError(f"无法读取: {exc.strerror}", file))
        return None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(RulesError(f"YAML 格式错误: {exc}", file))
        return None
    try:
        schema = json.loads((directory / "schema" / f"{name}.schema.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(RulesError(f"无法读取规则模式: {exc}", f"schema/{name}.schema.json"))
        return None
    errors = sorted(Draft202012Validator(schema).iter_errors(doc),
                    key=lambda e: [str(p) for p in e.absolute_path])
    for err in errors:
        problems.append(RulesError(err.message, file, _field(err.absolute_path) or "(文件)"))
    return None if errors else doc


def _field(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _check_regex(pattern: str, file: str, where: str, problems: list[RulesError]) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        problems.append(RulesError(f"正则表达式无效: {exc}", file, where))
