"""Cross-validate the statistical discipline model on the development sets.

    .venv/bin/python bench/classify_cv.py [--shared ../shared]

Splits: leave-one-file-out (train on the labelled rows of the other files) and 5 stratified
folds. Prints per-label P/R/F1 and micro/macro F1 of the model alone at 0.5, quantiles of
its probabilities, lexicon ∪ model (model labels added when p ≥ t) under leave-one-file-out,
and inference speed. Rows are scored as intake.classify.metrics scores them (no rows with
`label_basis: none_stated` or without a discipline list).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procs import items_per_second  # noqa: E402

from intake.classify import DISCIPLINES, Classifier  # noqa: E402
from intake.classify.metrics import f1_scores  # noqa: E402
from intake.classify.model import DisciplineModel  # noqa: E402
from intake.classify.training import (  # noqa: E402
    Row,
    label_prf,
    labelled_row,
    out_of_fold,
    stratified_folds,
)
from intake.round import load_round  # noqa: E402
from intake.rules import load_rules  # noqa: E402

FILES = ("cases_dev.jsonl", "messages_dev.jsonl", "complaints_dev.jsonl")
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = parser.parse_args(argv)
    shared = Path(args.shared)
    data = shared / "data"
    if not all((data / name).is_file() for name in FILES):
        print(f"no development data at {data}: skipped", file=sys.stderr)
        return 0

    items: list[dict] = []
    file_of: list[int] = []
    for number, name in enumerate(FILES):
        for line in (data / name).read_text("utf-8").splitlines():
            if line.strip():
                items.append(json.loads(line))
                file_of.append(number)
    labelled = [i for i, item in enumerate(items) if labelled_row(item) is not None]
    rows: list[Row] = [labelled_row(items[i]) for i in labelled]  # type: ignore[misc]
    gold = [labels for _, labels in rows]
    print(f"{len(items)} items, {len(rows)} with discipline labels "
          + ", ".join(f"{name}: {sum(1 for i in labelled if file_of[i] == n)}"
                      for n, name in enumerate(FILES)))

    # Leave one file out: every item gets probabilities from a model not trained on its file.
    lofo: list[dict[str, float]] = [{} for _ in items]
    for n, name in enumerate(FILES):
        train = [r for r, i in zip(rows, labelled, strict=True) if file_of[i] != n]
        model = DisciplineModel.train(train, version="cv")
        print(f"  without {name}: trained on {len(train)} rows, labels {','.join(model.labels)}")
        for i, item in enumerate(items):
            if file_of[i] == n:
                lofo[i] = model.probabilities(item["text"])
    lofo_rows = [lofo[i] for i in labelled]
    report("model alone, leave one file out, p >= 0.5", gold, predict(lofo_rows, 0.5))
    five = out_of_fold(rows, stratified_folds(rows, 5))
    report("model alone, 5 stratified folds, p >= 0.5", gold, predict(five, 0.5))

    print("\nprobability quantiles (leave one file out), q = " + " ".join(map(str, QUANTILES)))
    for label in DISCIPLINES:
        for kind, wanted in (("pos", True), ("neg", False)):
            ps = [p[label] for p, g in zip(lofo_rows, gold, strict=True)
                  if label in p and (label in g) is wanted]
            print(f"  {label:<15}{kind} n={len(ps):<4}{quantiles(ps)}")
    out_of_scope = [max(lofo[i].values(), default=0.0) for i in range(len(items))
                    if file_of[i] == FILES.index("messages_dev.jsonl")]
    print(f"  messages_dev (out of scope, unlabelled), highest p per item: "
          f"{quantiles(out_of_scope)}")

    clf = Classifier(load_round(shared / "contracts" / "round.example.yaml"), load_rules())
    lexicon = [set(clf.classify(item["text"], channel=item.get("channel")).disciplines)
               for item in items]
    messages = [i for i in range(len(items)) if file_of[i] == FILES.index("messages_dev.jsonl")]
    union("leave one file out", lexicon, messages, labelled, gold, lofo)
    # Messages carry no discipline labels, so they keep the model trained on all labelled rows.
    by_five = list(lofo)
    for i, probs in zip(labelled, five, strict=True):
        by_five[i] = probs
    union("5 stratified folds", lexicon, messages, labelled, gold, by_five)
    speed(rows, [item["text"] for item in items])
    return 0


def predict(probs: Sequence[dict[str, float]], threshold: float) -> list[set[str]]:
    return [{d for d, p in ps.items() if p >= threshold} for ps in probs]


def report(title: str, gold: Sequence[Sequence[str]], pred: Sequence[set[str]]) -> None:
    micro, macro = f1_scores(gold, pred)
    print(f"\n{title}: micro F1 {fmt(micro)}, macro F1 {fmt(macro)}")
    print(f"  {'label':<15}{'n':>4}{'P':>8}{'R':>8}{'F1':>8}")
    for label in DISCIPLINES:
        p, r, f = label_prf(gold, pred, label)
        n = sum(1 for g in gold if label in g)
        print(f"  {label:<15}{n:>4}{fmt(p):>8}{fmt(r):>8}{fmt(f):>8}")


def union(split: str, lexicon: list[set[str]], messages: list[int], labelled: list[int],
          gold: list[tuple[str, ...]], probs: list[dict[str, float]]) -> None:
    """Lexicon labels plus the model's labels with p >= t (model out of fold)."""
    print(f"\nlexicon ∪ model, {split}: micro/macro and per-label F1 on labelled rows; 'msgs+'"
          " is the share of out-of-scope messages given a label only the model proposed")
    head = "".join(f"{label[:6]:>8}" for label in DISCIPLINES)
    print(f"  {'':<14}{'micro':>7}{'macro':>7}{head}{'msgs+':>8}")
    for t in (None, *THRESHOLDS):
        pred = [lexicon[i] | ({d for d, p in probs[i].items() if p >= t} if t else set())
                for i in range(len(lexicon))]
        rows_pred = [pred[i] for i in labelled]
        micro, macro = f1_scores(gold, rows_pred)
        per = "".join(f"{fmt(label_prf(gold, rows_pred, d)[2]):>8}" for d in DISCIPLINES)
        added = sum(1 for i in messages if pred[i] - lexicon[i]) / max(1, len(messages))
        name = "lexicon only" if t is None else f"t = {t}"
        print(f"  {name:<14}{fmt(micro):>7}{fmt(macro):>7}{per}{added:>8.1%}")


def speed(rows: list[Row], texts: list[str]) -> None:
    model = DisciplineModel.train(rows, version="bench")
    padded = [(t * (300 // max(1, len(t)) + 1))[:300] for t in texts]
    for name, batch in (("dev texts", texts), ("300-char texts", padded)):
        rate = items_per_second(model.probabilities, batch, total=6000)
        chars = sum(len(t) for t in batch) / len(batch)
        print(f"\nspeed ({name}): {rate:,.0f} items/s "
              f"(mean {chars:.0f} chars, {len(model._terms):,} terms, one core)", end="")
    print()


def quantiles(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    return " ".join(f"{q:.2f}" for q in np.quantile(np.array(values), QUANTILES))


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
