"""The keyword classifier: subjects, disciplines, scope and routes for one item.

Everything is compiled once in `Classifier.__init__`; `classify()` only runs precompiled
patterns, so one core handles thousands of items a second.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import replace
from typing import Any

from intake.classify import DISCIPLINES, OFFICIAL_ROLES, Evidence, Subject, Suggestion
from intake.classify.lexicon import EvidenceFinder, Hit, to_evidence
from intake.classify.model import DisciplineModel
from intake.classify.models_store import ActiveModel
from intake.classify.route_guess import RouteGuesser, RouteHead
from intake.classify.routing import RouteMatch, Router
from intake.classify.semantic import WordVectors
from intake.classify.subjects import Mention, SubjectFinder
from intake.classify.text import Prepared, prepare
from intake.round import Round
from intake.rules import RuleSet

MODEL_VERSION = "keywords-1"
# Probability from which the statistical layer adds a label the lexicon did not find; chosen
# by cross-validation on the development data (bench/classify_cv.py): from 0.7 up the union
# never scored below the lexicon and labelled none of the out-of-scope messages.
MODEL_THRESHOLD = 0.8
# Probability of the model's accusation head from which an item whose main subject is in a
# scope role counts as in scope although the lexicon found no charge near them (then with
# needs_review and no discipline unless one is found). Chosen on grouped folds of the
# development files (bench/classify_layers.py), not on the authored evaluation set.
ACCUSATION_THRESHOLD = 0.5
# Probability from which the semantic layer (distilled e5 word vectors) adds a label, unless
# the layer carries its own per-label thresholds; chosen on grouped folds of the development
# files (bench/classify_layers.py).
SEMANTIC_THRESHOLD = 0.7
# How much the semantic layer needs before it adds a label: a text of fewer content words
# than SEMANTIC_MIN_WORDS gives heads confident about nothing ("书记贪污" scored four
# disciplines at 0.98 and more). Chosen on grouped folds of the development files and the
# training tip-offs (bench/classify_layer_check.py). Beside a label the lexicon found, the
# layer adds nothing (see `_learnt`): a margin of 0.2 above the threshold there was also
# measured, and lost on the notice and tip-off checks (micro 0.926 -> 0.903, 0.739 -> 0.735)
# while it won on the 84-item held-out check (0.814 -> 0.834). Scoring each sentence apart
# and keeping a label's highest probability was tried too: it labelled 114 of 192 messages
# that accuse nobody (44 before) and lost 0.09 micro F1 on dev.
SEMANTIC_MIN_WORDS = 5
# The layer adds at most this many labels to a text, its likeliest first: out of fold 63 %
# of the labels it added were right, and a second one was more often wrong (tip-offs out of
# fold 0.787 -> 0.794 micro F1 with one; dev unchanged).
SEMANTIC_MAX_ADDED = 1
# How close (in characters) a conduct phrase must be to a person to count as alleged of them.
NEAR = 80
ROLE_RANK = {"leadership": 6, "subordinate_head": 5, "key_post": 4, "outside_official": 3,
             "staff": 2, "non_official": 1, "unknown": 0}
CATEGORY_WORDS = {"政治": "political", "组织": "organizational", "廉洁": "integrity",
                  "群众": "mass", "工作": "work", "生活": "life"}


class Classifier:
    """Suggests subjects, disciplines, scope and routes for items of one round."""

    def __init__(self, round: Round, rules: RuleSet,
                 model: DisciplineModel | ActiveModel | None = None) -> None:
        """`model`: a trained statistical layer, or the data folder's active one (reloaded
        when `intake train` or `intake models use` changes it); None for keywords alone."""
        self.round = round
        self.rules = rules
        self._model = model
        self._scope = frozenset(round.scope_roles)
        self._evidence = EvidenceFinder(rules)
        self._subjects = SubjectFinder(round, rules)
        self._router = Router(rules)
        # One guesser per word-vector table (a reloaded active model brings a new one).
        self._guessers: weakref.WeakKeyDictionary[WordVectors, RouteGuesser | None] = (
            weakref.WeakKeyDictionary())
        spellings = rules.spellings
        self._respell = re.compile("|".join(
            map(re.escape, sorted(spellings, key=len, reverse=True)))) if spellings else None

    @property
    def version(self) -> str:
        """The version stored with each classification: keywords, plus the model if any."""
        return _version(self._current_model())

    def _guess_route(self, model: DisciplineModel | None, text: str) -> str | None:
        # Only a model with the semantic layer's word vectors can guess (not test stand-ins).
        semantic = getattr(model, "semantic", None)
        encoder = getattr(semantic, "encoder", None)
        if not isinstance(encoder, WordVectors):
            return None
        head = getattr(semantic, "route", None)
        if isinstance(head, RouteHead):
            return head.guess(encoder, text)
        if encoder not in self._guessers:
            self._guessers[encoder] = RouteGuesser.load(encoder)
        guesser = self._guessers[encoder]
        return guesser.guess(text) if guesser is not None else None

    def _current_model(self) -> DisciplineModel | None:
        return self._model.get() if isinstance(self._model, ActiveModel) else self._model

    def classify(self, text: str, *, channel: str | None = None,
                 hints: dict[str, str] | None = None) -> Suggestion:
        """Classify one item. `hints` may hold subject_name, subject_unit, subject_post and
        category as typed into a report form; they count as strong evidence."""
        prep = prepare(text or "")
        if self._respell is not None and self._respell.search(prep.norm):
            # Misspelt key words ("底保") read as meant; same length, so offsets hold and
            # evidence still quotes the original.
            spellings = self.rules.spellings
            prep = replace(prep, norm=self._respell.sub(lambda m: spellings[m.group()],
                                                        prep.norm))
        hits = self._evidence.find(prep)
        # Hearsay of a charge the letter itself denies ("之前有人说他赌博…我可以确定他没有赌博")
        # does not count: the denial answers the rumour.
        denied = {h.label for h in hits if h.status == "negated"}
        firm = {h.label for h in hits if h.status == "asserted"}
        counted = [h for h in hits if h.status == "asserted" or (
            h.status == "hedged" and (h.label not in denied or h.label in firm))]
        mentions = self._subjects.find(prep)
        hinted = self._subjects.from_hints(hints) if hints else None
        category_text = (hints or {}).get("category", "")
        category = _category_label(category_text)

        labels = {h.label for h in counted}
        extra_evidence: tuple[Evidence, ...] = ()
        if category and category not in labels:
            labels.add(category)
            # Shown as the discipline's Chinese name, whatever code the form sent.
            name = self.rules.disciplines[category].name if (
                category in self.rules.disciplines) else category_text
            extra_evidence = (Evidence(name, category, "asserted", source="form"),)
        model = self._current_model()
        learnt = self._learnt(prep, model, labels) if model is not None else ()
        named = bool(labels)  # before the statistical layers add theirs
        labels |= {e.label for e in learnt if e.status != "negated"}
        disciplines = tuple(d for d in DISCIPLINES if d in labels)

        # Scope comes from the accusation: who is accused, and whether wrongdoing is alleged
        # at all (a discipline phrase, a general cue or a complaint frame); the disciplines
        # only say which rules were broken.
        general = self._evidence.accusations(prep)
        accused = [h for h in general if h.status != "negated"]
        cues = [h for h in accused if h.label == "accusation"]
        charged = bool(labels or accused)
        ranked = self._rank(prep, mentions, counted + accused, hinted, charged)
        main = ranked[0][1] if ranked else None
        alleged_main = ranked[0][0] if ranked else False
        matches = self._router.matches(prep.norm)
        # A text about a person of the scope roles is what people write to the team to
        # complain: with no words of wrongdoing found it is still presumed a complaint (for
        # review), unless it denies any ("从来没拿过"), praises, asks or is spam. A label only
        # a statistical layer proposes does not end the presumption: it only adds labels.
        presumed = bool(
            not (named or accused) and main is not None and main.role in self._scope
            and not any(h.status == "negated" for h in (*hits, *general))
            and not self._evidence.not_accusing(prep)
            and not self._subjects.only_answers(prep.norm, main)
            and not any(m.rule.kind == "archive" for m in matches))
        in_scope = bool(main and main.role in self._scope
                        and ((alleged_main and charged) or presumed))
        # The lexicon misses charges said in words it lacks: the model's accusation head
        # may still put an accused scope-role person in scope, for a person to confirm.
        accused_by_model = (not in_scope and main is not None and main.role in self._scope
                            and _accusation(model, prep.norm) >= ACCUSATION_THRESHOLD)
        in_scope = in_scope or accused_by_model
        subject_role = main.role if main else "unknown"
        if (named or cues) and not alleged_main and self._subjects.unnamed_is_elsewhere(
                prep.norm):
            # Conduct alleged of someone unnamed with nothing tying it to the round:
            # discipline binds officials, so an official of another body.
            subject_role = "outside_official"

        alleged_role = None
        if main and (accused_by_model
                     or (labels and alleged_main and main.role in OFFICIAL_ROLES)):
            alleged_role = main.role
        elif (labels and (named or subject_role == "outside_official")
              and (main is None or main.role == "unknown" or not alleged_main)):
            # A charge against someone unnamed: one the lexicon names, or one the layer
            # proposes about a body elsewhere (a case notice's "县某局："). A label only the
            # layer proposes, with no official in sight, is no charge to route: the matter
            # decides.
            alleged_role = "unknown"
        charges = len({prep.norm[h.start:h.end] for h in counted})
        accused_post = ""
        if main is not None and alleged_role == "outside_official":
            # The post as written, with the words just before it ("县委书记的儿子" → 县委书记).
            start = prep.norm.rfind("，", 0, main.start) + 1 if main.start >= 0 else 0
            accused_post = (prep.norm[max(start, main.start - 6):main.end]
                            if main.start >= 0 else main.post or main.text)
        routes = self._router.route(prep.norm, in_scope=in_scope, alleged_role=alleged_role,
                                    matches=matches, charges=charges, accused=accused_post)

        confidence = _confidence(in_scope, main, counted, routes, matches)
        hedged_only = bool(counted) and all(h.status == "hedged" for h in counted)
        # A label only the model proposes is a suggestion a person must look at.
        model_only = any(e.status != "negated" for e in learnt)
        # So is a roster name matched only by how it sounds.
        by_sound = main is not None and main.by_sound
        # Accused, but of nothing the lexicon names: in scope, a person picks the disciplines.
        unnamed_charge = in_scope and not named  # also every presumed complaint
        # Nothing matched a department: the fallback is a guess, never a default.
        unsure_route = routes == (self.rules.fallback,)
        if unsure_route:
            # The nearest worked examples may still name a department: put it first, keep
            # the fallback after it and the item marked for review.
            guessed = self._guess_route(model, prep.norm)
            # A guess never archives: something to act on is not spam by its looks alone.
            if guessed and guessed not in routes and guessed != self.rules.empty:
                routes = (guessed, *routes)
        needs_review = (confidence < 0.6 or (in_scope and hedged_only) or model_only
                        or by_sound or unnamed_charge or unsure_route or accused_by_model)
        if unnamed_charge:
            extra_evidence += to_evidence(prep, accused)
        # People only: a shop or an office may decide the role, but is nobody to pick.
        subjects = tuple(self._subject(prep, m) for _, m in ranked
                         if self._subjects.is_person(m))[:5]
        candidates = self._candidates(prep, ranked, subjects)
        return Suggestion(
            in_scope=in_scope,
            subject_role=subject_role,
            subjects=subjects,
            disciplines=disciplines,
            routes=routes,
            confidence=confidence,
            needs_review=needs_review,
            evidence=(to_evidence(prep, hits) + extra_evidence + learnt
                      + _route_evidence(prep, routes, matches)),
            model_version=_version(model),
            candidates=candidates,
        )

    def _learnt(self, prep: Prepared, model: DisciplineModel,
                found: set[str]) -> tuple[Evidence, ...]:
        """Labels the statistical layer is sure of and the lexicon did not find, each with
        the clause that scores highest for it as its evidence."""
        out = []
        layers: list[tuple[Any, dict[str, float], float]] = [(model, {}, MODEL_THRESHOLD)]
        semantic = getattr(model, "semantic", None)
        # The semantic layer speaks only where the lexicon named no discipline: beside the
        # lexicon's own labels it mostly added wrong ones (on formal case notices precision
        # fell from 0.90 to 0.73; bench/classify_per_label.py, tests/fixtures/notice_*.jsonl).
        if semantic is not None and not found:
            # The layer's own thresholds per label where it has them (grouped folds).
            layers.append((semantic, getattr(semantic, "thresholds", None) or {},
                           SEMANTIC_THRESHOLD))
        sure: dict[str, Any] = {}  # label → the first layer sure of it
        for layer, thresholds, threshold in layers:
            if layer is semantic:
                probs = self._semantic_probabilities(prep, semantic)
            else:
                probs = layer.probabilities(prep.norm)
            added = sorted((label for label, p in probs.items()
                            if label in DISCIPLINES and label not in found and label not in sure
                            and p >= thresholds.get(label, threshold)),
                           key=lambda label: -probs[label])
            if layer is semantic:
                added = added[:SEMANTIC_MAX_ADDED]
            sure.update((label, layer) for label in added)
        spans = prep.clause_spans() if sure else []
        for label in (d for d in DISCIPLINES if d in sure):
            scores = sure[label].clause_scores(prep.norm, label, spans)
            start, end = spans[max(range(len(spans)), key=scores.__getitem__)]
            status = self._evidence.clause_status(prep, start, end)
            o_start, o_end = prep.span(start, end)
            out.append(Evidence(prep.original[o_start:o_end], label, status, o_start, o_end,
                                source="model"))
        return tuple(out)

    @staticmethod
    def _semantic_probabilities(prep: Prepared, semantic: Any) -> dict[str, float]:
        """The semantic layer's probabilities for the text; none when it holds fewer than
        SEMANTIC_MIN_WORDS content words of the layer's vocabulary."""
        if isinstance(getattr(semantic, "encoder", None), WordVectors):
            return semantic.probabilities(prep.norm, SEMANTIC_MIN_WORDS)
        return semantic.probabilities(prep.norm)  # a stand-in without word vectors

    def _candidates(self, prep: Prepared, ranked: list[tuple[bool, Mention]],
                    subjects: tuple[Subject, ...]) -> tuple[Subject, ...]:
        """People staff may pick instead: roster members an unresolved post may mean, then
        mentions beyond the first five; at most eight, none already a subject."""
        named = {s.name for s in subjects if s.name}
        out: list[Subject] = []
        for _, m in ranked:
            for r in self._subjects.members_like(prep.norm, m):
                if r.name not in named:
                    named.add(r.name)
                    start, end = prep.span(m.start, m.end)
                    out.append(Subject(prep.original[start:end], r.name, r.post, r.role, 0.3,
                                       start, end))
        persons = [m for _, m in ranked if self._subjects.is_person(m)]
        out += [self._subject(prep, m) for m in persons[5:]]
        return tuple(out[:8])

    def _rank(self, prep: Prepared, mentions: list[Mention], counted: list[Hit],
              hinted: Mention | None, alleged: bool) -> list[tuple[bool, Mention]]:
        """Subjects, main one first: in-scope and alleged, then nearest to a charge, gravest;
        persons before shops and offices. An official whose standing someone trades on
        ("仗着乡长的名头") is not the accused."""
        officials = [m for m in mentions
                     if m.role in OFFICIAL_ROLES and m.possessor != "standing"]
        merged: dict[tuple, tuple[bool, Mention]] = {}
        if hinted is not None:
            merged[(hinted.name or hinted.text, hinted.role)] = (alleged, hinted)
        for m in mentions:
            near = any(_near(prep, m, h) for h in counted) or (
                bool(counted) and len(officials) == 1 and m.role in OFFICIAL_ROLES)
            if near and self._subjects.counterpart(prep.norm, m):
                near = False  # the other side of a deal, not the accused
            if m.possessor == "standing":
                near = False
            key = (m.name or m.text, m.role)
            if key in merged:
                was_near, kept = merged[key]
                merged[key] = (was_near or near, kept if kept.score >= m.score else m)
            else:
                merged[key] = (near, m)

        def order(item: tuple[bool, Mention]) -> tuple:
            near, m = item
            return (not (near and m.role in self._scope), not near,
                    m.possessor == "standing", not self._subjects.is_person(m),
                    m.role not in OFFICIAL_ROLES, -ROLE_RANK.get(m.role, 0), -m.score, m.start)

        return sorted(merged.values(), key=order)

    def _subject(self, prep: Prepared, m: Mention) -> Subject:
        if m.start < 0:
            return Subject(m.text, m.name, m.post, m.role, m.score)
        start, end = prep.span(m.start, m.end)
        return Subject(prep.original[start:end], m.name, m.post, m.role, m.score, start, end)


def classify(text: str, round: Round, rules: RuleSet, **kw: object) -> Suggestion:
    """One-off convenience: build a Classifier and classify one text (slow for many items)."""
    return Classifier(round, rules).classify(text, **kw)  # type: ignore[arg-type]


def _route_evidence(prep: Prepared, routes: tuple[str, ...],
                    matches: list[RouteMatch]) -> tuple[Evidence, ...]:
    """What each department among the routes was chosen for: the words its strongest rule
    read, labelled with the department's code, so a person sees why a transfer is suggested
    ("物业费…不办事" → housing). Departments chosen by the accused's role have their
    discipline evidence instead."""
    out: list[Evidence] = []
    for match in matches:
        department = match.rule.department
        if department not in routes or match.end <= match.first or any(
                e.label == department for e in out):
            continue
        start, end = prep.span(match.first, match.end)
        out.append(Evidence(prep.original[start:end], department, "asserted", start, end,
                            source="route"))
    return tuple(out)


def _version(model: DisciplineModel | None) -> str:
    return f"{MODEL_VERSION}+{model.version}" if model else MODEL_VERSION


def _accusation(model: DisciplineModel | None, text: str) -> float:
    """The model's accusation probability; 0.0 without a model or an accusation head."""
    score = getattr(model, "accusation_score", None)
    return (score(text) or 0.0) if score is not None else 0.0


def _near(prep: Prepared, m: Mention, h: Hit) -> bool:
    if prep.sentence_index(m.start) == prep.sentence_index(h.start):
        return True
    gap = h.start - m.end if h.start >= m.end else m.start - h.end
    return gap <= NEAR


def _category_label(category: str) -> str | None:
    category = category.strip()
    if category in DISCIPLINES:
        return category
    for word, code in CATEGORY_WORDS.items():
        if category.startswith(word):
            return code
    return None


def _confidence(in_scope: bool, main: Mention | None, counted: list[Hit],
                routes: tuple[str, ...], matches: list) -> float:
    asserted = sum(1 for h in counted if h.status == "asserted")
    hedged = len(counted) - asserted
    evidence = min(1.0, 0.4 * asserted + 0.2 * hedged)
    subject = main.score if main else 0.0
    if in_scope:
        value = 0.3 + 0.35 * evidence + 0.35 * subject
    elif routes == ("none",):
        value = 0.85
    elif counted and main is not None:
        value = 0.35 + 0.25 * evidence + 0.25 * subject
    elif matches:
        value = 0.55 + 0.1 * min(3, len(matches)) - (0.1 if counted else 0.0)
    else:
        value = 0.35
    return max(0.0, min(1.0, round(value, 3)))
