"""Where an item goes: `accept` for in-scope items, departments for the rest (domain.md §5)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.rules import RouteRule, RuleSet


@dataclass(frozen=True)
class RouteMatch:
    """One route rule that matched, with how strongly (priority, then hit count)."""

    rule: RouteRule
    hits: int
    first: int
    end: int = -1  # the end of the first match: text[first:end] is what the rule read


class Router:
    """Evaluates routes.yaml against a text; one compiled alternation per rule."""

    def __init__(self, rules: RuleSet) -> None:
        compiled = [
            (r, re.compile("|".join(f"(?:{p})" for p in r.patterns)),
             re.compile("|".join(f"(?:{p})" for p in r.unless)) if r.unless else None)
            for r in rules.routes
        ]
        # `kind: accused` rules read the accused's post, not the text (an addressee "尊敬的
        # 市长" or a "县长热线" is nobody accused).
        self._rules = tuple(c for c in compiled if c[0].kind != "accused")
        self._accused = tuple(c for c in compiled if c[0].kind == "accused")
        self._discipline_routes = rules.discipline_routes
        self._fallback = rules.fallback
        self._empty = rules.empty
        self._min_chars = rules.min_chars

    def matches(self, text: str) -> list[RouteMatch]:
        """Rules that match, strongest first."""
        out = []
        for rule, pattern, unless in self._rules:
            found = list(pattern.finditer(text))
            if not found or (unless is not None and unless.search(text)):
                continue
            out.append(RouteMatch(rule, len(found), found[0].start(), found[0].end()))
        # Priority decides; a rule hit many times gains a little (capped) over a stray word.
        out.sort(key=lambda m: (-(m.rule.priority + 4 * min(m.hits - 1, 3)), m.first))
        return out

    def accused_routes(self, accused: str) -> list[str]:
        """Departments of the `kind: accused` rules the accused's post matches ("县委书记")."""
        if not accused:
            return []
        return [r.department for r, pattern, unless in self._accused
                if pattern.search(accused) and not (unless and unless.search(accused))]

    def route(self, text: str, *, in_scope: bool, alleged_role: str | None,
              matches: list[RouteMatch], charges: int = 2, accused: str = "",
              ) -> tuple[str, ...]:
        """Ordered route codes for an item.

        `alleged_role` is the role of the main subject when a discipline breach is alleged
        against an official, else None; `charges` counts the distinct conduct phrases;
        `accused` is the main subject's post as written (for `kind: accused` rules).
        """
        if len(text.strip()) < self._min_chars:
            return (self._empty,)
        routes: list[str] = []
        archive = [m for m in matches if m.rule.kind == "archive"]
        topical = [m for m in matches if m.rule.kind != "archive"]
        if in_scope:
            routes.append("accept")
            routes.extend(m.rule.department for m in topical if m.rule.also_in_scope)
        elif archive and alleged_role == "unknown" and charges < 2:
            # Spam with one stray conduct word ("代开发票", "无抵押") and nobody identified:
            # the spam pattern decides.
            routes.append(archive[0].rule.department)
            routes.extend(m.rule.department for m in topical)
        elif alleged_role == "unknown" and topical and charges < 2:
            # One conduct word and nobody identified: the matter itself decides who acts
            # first, the commission gets it after ("决策失误" in a complaint about a school
            # move). Several charges read as a discipline complaint and go to it first.
            routes.extend(m.rule.department for m in topical)
            routes.extend(self._discipline_routes["unknown"])
        elif alleged_role is not None and alleged_role in self._discipline_routes:
            routes.extend(m.rule.department for m in topical if m.rule.before_discipline)
            if alleged_role == "outside_official":
                routes.extend(self.accused_routes(accused))
            routes.extend(self._discipline_routes[alleged_role])
            routes.extend(m.rule.department for m in topical)
        else:
            if archive:
                routes.append(archive[0].rule.department)
            routes.extend(m.rule.department for m in topical)
            if not routes:
                routes.append(self._fallback)
        return tuple(dict.fromkeys(routes))
