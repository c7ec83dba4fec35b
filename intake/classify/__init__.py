"""Classification: text + round → subjects, disciplines, scope, routes, with evidence.

This package is pure: it knows nothing of storage or channels. `classify()` is the one
entry point the pipeline and `intake classify` call; what stands behind it may change
(a later issue replaces the keyword layer with a better one) without touching callers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

DISCIPLINES = ("political", "organizational", "integrity", "mass", "work", "life")
EVIDENCE_STATUSES = ("asserted", "hedged", "negated")
# Subject roles that hold public office (domain.md §2).
OFFICIAL_ROLES = frozenset({"leadership", "subordinate_head", "key_post", "staff",
                            "outside_official"})


@dataclass(frozen=True)
class Subject:
    """A person or post the text complains about, resolved against the roster when possible."""

    mention: str
    name: str
    post: str
    role: str
    score: float
    start: int = -1
    end: int = -1


@dataclass(frozen=True)
class Evidence:
    """A phrase of the text supporting a label; negated phrases are shown but do not count."""

    text: str
    label: str
    status: str = "asserted"
    start: int = -1
    end: int = -1
    # Where it comes from: "lexicon" (a conduct phrase), "model" (the clause the statistical
    # layer scores highest for a label the lexicon did not find), "form" (the reporter's pick)
    # or "route" (the words a route rule read; the label is then a department's code).
    source: str = "lexicon"


@dataclass(frozen=True)
class Suggestion:
    """The service's suggestion for one item, shaped as the classify contract's output line."""

    in_scope: bool
    subject_role: str
    subjects: tuple[Subject, ...]
    disciplines: tuple[str, ...]
    routes: tuple[str, ...]
    confidence: float
    needs_review: bool
    evidence: tuple[Evidence, ...]
    model_version: str = ""
    candidates: tuple[Subject, ...] = field(default=())

    def to_contract(self) -> dict:
        """The fields of the classify contract (positions and model version left out)."""

        def subject(s: Subject) -> dict:
            return {"mention": s.mention, "name": s.name, "post": s.post, "role": s.role,
                    "score": round(s.score, 3)}

        return {
            "in_scope": self.in_scope,
            "subject_role": self.subject_role,
            "subjects": [subject(s) for s in self.subjects],
            "disciplines": list(self.disciplines),
            "routes": list(self.routes),
            "confidence": round(self.confidence, 3),
            "needs_review": self.needs_review,
            "evidence": [{"text": e.text, "label": e.label, "status": e.status}
                         for e in self.evidence],
            # Extension of the contract: people staff may pick instead of the subjects.
            "candidates": [subject(s) for s in self.candidates],
        }

    def to_record(self) -> dict:
        """Everything, positions included, for storage and the triage page."""
        return asdict(self)


from intake.classify.engine import Classifier, classify  # noqa: E402

__all__ = ["DISCIPLINES", "EVIDENCE_STATUSES", "Classifier", "Evidence", "Subject",
           "Suggestion", "classify"]
