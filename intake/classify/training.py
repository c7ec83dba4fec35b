"""Training rows for the discipline model, and cross-validation of the model alone.

Rows come from labelled JSON Lines files (`text` and a `disciplines` list) and from staff
decisions in the database (items whose current classification a triager confirmed or
corrected). Route rows (text, department) come from the same places: the first acceptable
route of a labelled item out of scope, and the department a triager sent such an item to;
they train the semantic layer's route head.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.classify import DISCIPLINES
from intake.classify.metrics import f1_scores
from intake.classify.model import DisciplineModel, ModelError
from intake.store import models as m

Row = tuple[str, tuple[str, ...]]
RouteRow = tuple[str, str]
# Routes that name no department to learn: the accept step and the archive.
NOT_DEPARTMENTS = frozenset({"accept", "none"})


@dataclass
class FileRows:
    rows: list[Row] = field(default_factory=list)
    skipped: int = 0  # lines without text or without a discipline label


def rows_from_file(path: str) -> FileRows:
    """Labelled rows of a JSON Lines file (OSError or UnicodeDecodeError if unreadable).

    Skipped: lines that are not objects with `text` and a `disciplines` list, and rows whose
    `label_basis` is `none_stated` (the source named no discipline, which is not "none").
    """
    out = FileRows()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                out.skipped += 1
                continue
            row = labelled_row(item)
            if row is None:
                out.skipped += 1
            else:
                out.rows.append(row)
    return out


def labelled_row(item: object) -> Row | None:
    """(text, disciplines) of a labelled item, None when it carries no discipline label.

    An item out of scope with `disciplines: null` (a citizen's message with no person
    accused) counts as alleging none: it teaches the accusation head what is not one.
    """
    if (not isinstance(item, dict) or not isinstance(item.get("text"), str)
            or item.get("label_basis") == "none_stated"):
        return None
    if item.get("disciplines") is None and item.get("in_scope") is False:
        return item["text"], ()
    if not isinstance(item.get("disciplines"), list):
        return None
    return item["text"], _known(item["disciplines"])


def db_staff_rows(session: Session) -> list[Row]:
    """(text, disciplines) of every item whose current classification is a staff decision.

    Spam is left out, and so are items whose text the retention rule destroyed.
    """
    stmt = (
        select(m.Submission.text, m.Classification.disciplines)
        .join(m.Classification, m.Classification.id == m.Submission.current_classification_id)
        .where(m.Classification.source == "staff", m.Submission.spam.is_(False),
               m.Submission.status != "spam", m.Submission.text != m.PURGED_TEXT)
        .order_by(m.Submission.id)
    )
    return [(text, _known(disciplines or [])) for text, disciplines in session.execute(stmt)]


def routes_from_file(path: str) -> list[RouteRow]:
    """(text, department) of the file's items out of scope with an acceptable route (the
    first of `routes_ok`); OSError or UnicodeDecodeError if unreadable."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                item = json.loads(line) if line.strip() else None
            except ValueError:
                continue
            if (isinstance(item, dict) and item.get("in_scope") is False
                    and isinstance(item.get("text"), str)
                    and isinstance(item.get("routes_ok"), list)):
                first = _department(item["routes_ok"])
                if first:
                    out.append((item["text"], first))
    return out


def db_staff_routes(session: Session) -> list[RouteRow]:
    """(text, department) of every item out of scope whose current classification is a
    staff decision naming a department (spam and purged texts left out)."""
    stmt = (
        select(m.Submission.text, m.Classification.routes)
        .join(m.Classification, m.Classification.id == m.Submission.current_classification_id)
        .where(m.Classification.source == "staff", m.Classification.in_scope.is_(False),
               m.Submission.spam.is_(False), m.Submission.status != "spam",
               m.Submission.text != m.PURGED_TEXT)
        .order_by(m.Submission.id)
    )
    out = []
    for text, routes in session.execute(stmt):
        first = _department(routes or [])
        if first:
            out.append((text, first))
    return out


def _department(routes: Sequence[object]) -> str | None:
    """The first route that names a department."""
    return next((r for r in routes if isinstance(r, str) and r not in NOT_DEPARTMENTS), None)


def label_counts(rows: Sequence[Row]) -> dict[str, int]:
    return {d: sum(1 for _, labels in rows if d in labels) for d in DISCIPLINES}


def stratified_folds(rows: Sequence[Row], k: int) -> list[int]:
    """A fold number per row, dealing rows out by their rarest label so each fold gets some."""
    counts = label_counts(rows)

    def rarity(i: int) -> tuple[int, int]:
        return min((counts[d] for d in rows[i][1]), default=len(rows) + 1), i

    folds = [0] * len(rows)
    for position, i in enumerate(sorted(range(len(rows)), key=rarity)):
        folds[i] = position % k
    return folds


def out_of_fold(rows: Sequence[Row], folds: Sequence[int]) -> list[dict[str, float]]:
    """Each row's probabilities from a model trained on the other folds.

    A label the fold's model could not train (too few rows) is missing from the dict.
    """
    probs: list[dict[str, float]] = [{} for _ in rows]
    for fold in sorted(set(folds)):
        train = [r for r, f in zip(rows, folds, strict=True) if f != fold]
        try:
            model = DisciplineModel.train(train, version="cv")
        except ModelError:
            continue
        for i, f in enumerate(folds):
            if f == fold:
                probs[i] = model.probabilities(rows[i][0])
    return probs


def cv_figures(rows: Sequence[Row], k: int, threshold: float = 0.5) -> dict[str, object]:
    """Micro/macro F1 (and per-label F1) of the model alone over k stratified folds."""
    probs = out_of_fold(rows, stratified_folds(rows, k))
    gold = [labels for _, labels in rows]
    pred = [[d for d, p in ps.items() if p >= threshold] for ps in probs]
    micro, macro = f1_scores(gold, pred)
    return {"folds": k, "threshold": threshold, "micro_f1": micro, "macro_f1": macro,
            "label_f1": {d: label_prf(gold, pred, d)[2] for d in DISCIPLINES}}


def label_prf(gold: Sequence[Collection[str]], pred: Sequence[Collection[str]],
              label: str) -> tuple[float | None, float | None, float | None]:
    """Precision, recall and F1 of one label (None where undefined)."""
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if label in g and label in p)
    n_pred = sum(1 for p in pred if label in p)
    n_gold = sum(1 for g in gold if label in g)
    precision = tp / n_pred if n_pred else None
    recall = tp / n_gold if n_gold else None
    f1 = 2 * tp / (n_pred + n_gold) if n_pred + n_gold else None
    return precision, recall, f1


def _known(labels: Sequence[object]) -> tuple[str, ...]:
    return tuple(d for d in DISCIPLINES if d in labels)
