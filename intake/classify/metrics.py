"""Scoring of suggestions against labelled rows, as shared/data/README.md describes.

- `in_scope`: balanced accuracy (mean recall of the classes present);
- `subject_role`: accuracy over rows with a role that is not `role_ambiguous`;
- `disciplines`: micro and macro F1, skipping rows whose `label_basis` is `none_stated`;
- routes: share of rows with `routes_ok` whose first route after `accept` is acceptable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from intake.classify import DISCIPLINES


def balanced_accuracy(gold: Sequence[bool], pred: Sequence[bool]) -> float | None:
    """Mean of per-class recall over the classes present in `gold`; None without rows."""
    recalls = []
    for cls in (True, False):
        idx = [i for i, g in enumerate(gold) if g is cls]
        if idx:
            recalls.append(sum(1 for i in idx if pred[i] is cls) / len(idx))
    return sum(recalls) / len(recalls) if recalls else None


def f1_scores(gold: Sequence[Iterable[str]], pred: Sequence[Iterable[str]],
              labels: Sequence[str] = DISCIPLINES) -> tuple[float | None, float | None]:
    """Micro and macro F1 of multi-label sets; macro over labels seen in gold or prediction."""
    tp = dict.fromkeys(labels, 0)
    fp = dict.fromkeys(labels, 0)
    fn = dict.fromkeys(labels, 0)
    for g_raw, p_raw in zip(gold, pred, strict=True):
        g, p = set(g_raw), set(p_raw)
        for label in labels:
            if label in g and label in p:
                tp[label] += 1
            elif label in p:
                fp[label] += 1
            elif label in g:
                fn[label] += 1
    if not gold:
        return None, None
    t, f_p, f_n = sum(tp.values()), sum(fp.values()), sum(fn.values())
    micro = 2 * t / (2 * t + f_p + f_n) if (t + f_p + f_n) else 1.0
    per_label = [2 * tp[x] / (2 * tp[x] + fp[x] + fn[x])
                 for x in labels if tp[x] + fp[x] + fn[x]]
    macro = sum(per_label) / len(per_label) if per_label else None
    return micro, macro


def first_route_ok(routes: Sequence[str], routes_ok: Iterable[str]) -> bool:
    """True when the first route after a leading `accept` is one of `routes_ok`."""
    rest = list(routes[1:] if routes and routes[0] == "accept" else routes)
    return bool(rest) and rest[0] in set(routes_ok)


def score(rows: Sequence[Mapping[str, Any]], preds: Sequence[Mapping[str, Any]]) -> dict:
    """All figures for labelled rows and contract-shaped predictions, in the same order."""
    if len(rows) != len(preds):
        raise ValueError("rows and predictions differ in length")
    scope_rows = [(r, p) for r, p in zip(rows, preds, strict=True)
                  if isinstance(r.get("in_scope"), bool)]
    role_rows = [(r, p) for r, p in zip(rows, preds, strict=True)
                 if r.get("role") and not r.get("role_ambiguous")]
    disc_rows = [(r, p) for r, p in zip(rows, preds, strict=True)
                 if r.get("disciplines") is not None and r.get("label_basis") != "none_stated"]
    route_rows = [(r, p) for r, p in zip(rows, preds, strict=True) if r.get("routes_ok")]
    micro, macro = f1_scores([r["disciplines"] for r, _ in disc_rows],
                             [p.get("disciplines", []) for _, p in disc_rows])
    return {
        "n": len(rows),
        "in_scope_balanced_accuracy": balanced_accuracy(
            [r["in_scope"] for r, _ in scope_rows],
            [bool(p.get("in_scope")) for _, p in scope_rows]),
        "in_scope_n": len(scope_rows),
        "role_accuracy": (sum(1 for r, p in role_rows if p.get("subject_role") == r["role"])
                          / len(role_rows)) if role_rows else None,
        "role_n": len(role_rows),
        "discipline_micro_f1": micro,
        "discipline_macro_f1": macro,
        "discipline_n": len(disc_rows),
        "route_ok": (sum(1 for r, p in route_rows
                         if first_route_ok(p.get("routes", []), r["routes_ok"]))
                     / len(route_rows)) if route_rows else None,
        "route_n": len(route_rows),
    }
