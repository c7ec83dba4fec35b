"""Per-discipline thresholds for the semantic layer, chosen by grouped cross-validation.

    .venv/bin/python bench/classify_thresholds.py [--shared ../shared] [--cache DIR]
        [--batch-from N]

The population scored: the development files (grouped by source: a case notice's page,
otherwise the row) and the project's training tip-offs (grouped in blocks of 20 consecutive
ids, since neighbouring ids were written together about the same conduct). Five folds; each
fold's heads learn from the other folds (+ the project's sample sentences). A row's labels
are the lexicon's (the classifier without a model) united with the heads' labels at p ≥ t,
as the engine adds them. Printed: micro/macro F1 out of fold at one threshold for all, and
with each discipline's best threshold (the ones the default layer ships,
bench/build_default_model.py). Never the authored set nor the held-out check.

`--batch-from N`: tip-offs from id tr-N on are never scored, only trained on (in every fold);
with `--without-batch` they are left out altogether: the same population then shows whether
that batch helps.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from build_default_model import FILES, dev_items, training_items, word_vectors  # noqa: E402

from intake.classify import DISCIPLINES, Classifier  # noqa: E402
from intake.classify.metrics import f1_scores  # noqa: E402
from intake.classify.semantic import SemanticLayer, WordVectors  # noqa: E402
from intake.classify.training import labelled_row  # noqa: E402
from intake.round import load_round  # noqa: E402
from intake.rules import load_rules  # noqa: E402
from tests.sample_disciplines import sample_rows  # noqa: E402

GRID = tuple(round(x, 2) for x in np.arange(0.5, 0.96, 0.05))
BLOCK = 20


def tipoff_number(item: dict) -> int:
    return int(str(item["id"]).split("-")[1])


def out_of_fold(words: WordVectors, items: list[dict], groups: list[str],
                extra: list[dict]) -> np.ndarray:
    """Probabilities (rows × disciplines) of each item from heads that never saw its group;
    `extra` rows are trained on in every fold."""
    from sklearn.model_selection import GroupKFold

    probs = np.zeros((len(items), len(DISCIPLINES)))
    extra_rows = [r for r in map(labelled_row, extra) if r is not None]
    for train, test in GroupKFold(n_splits=5).split(items, groups=groups):
        rows = [r for r in (labelled_row(items[i]) for i in train) if r is not None]
        layer = SemanticLayer.train(words, rows + extra_rows + sample_rows())
        for i in test:
            p = layer.probabilities(items[i]["text"])
            probs[i] = [p.get(d, 0.0) for d in DISCIPLINES]
    return probs


def union_f1(gold: list[list[str]], lexicon: list[set[str]], probs: np.ndarray,
             thresholds: dict[str, float]) -> tuple[float, float]:
    pred = [lex | {d for j, d in enumerate(DISCIPLINES) if p[j] >= thresholds[d]}
            for lex, p in zip(lexicon, probs, strict=True)]
    micro, macro = f1_scores(gold, pred)
    return micro or 0.0, macro or 0.0


def choose(gold: list[list[str]], lexicon: list[set[str]], probs: np.ndarray,
           start: float = 0.7) -> dict[str, float]:
    """Each discipline's threshold maximising micro F1 of the union, the others held."""
    chosen = dict.fromkeys(DISCIPLINES, start)
    for d in DISCIPLINES:
        best = max(GRID, key=lambda t: (union_f1(gold, lexicon, probs, {**chosen, d: t})[0],
                                        -abs(t - start)))
        chosen[d] = best
    return chosen


def grouped_thresholds(words: WordVectors, shared: Path, each: bool) -> dict[str, float]:
    """The thresholds the default layer ships: maximising micro F1 of lexicon ∪ heads out of
    fold; one for all disciplines, or with `each` one per discipline."""
    words = WordVectors(words.words, words.vectors.astype(np.float16).astype(np.float32))
    items, groups, _ = population(shared, None)
    keep = [i for i, it in enumerate(items) if labelled_row(it) is not None]
    items, groups = [items[i] for i in keep], [groups[i] for i in keep]
    probs = out_of_fold(words, items, groups, [])
    clf = Classifier(load_round(shared / "contracts" / "round.example.yaml"), load_rules())
    lexicon = [set(clf.classify(it["text"]).disciplines) for it in items]
    gold = [list(it.get("disciplines") or []) for it in items]
    one = best_single(gold, lexicon, probs)
    return choose(gold, lexicon, probs, one) if each else dict.fromkeys(DISCIPLINES, one)


def best_single(gold: list[list[str]], lexicon: list[set[str]], probs: np.ndarray) -> float:
    return max(GRID, key=lambda t: union_f1(gold, lexicon, probs,
                                            dict.fromkeys(DISCIPLINES, t))[0])


def population(shared: Path, batch_from: int | None) -> tuple[list[dict], list[str], list[dict]]:
    items, groups = dev_items(shared / "data")
    tips = training_items()
    scored = [t for t in tips if batch_from is None or tipoff_number(t) < batch_from]
    extra = [t for t in tips if batch_from is not None and tipoff_number(t) >= batch_from]
    items = items + scored
    groups = groups + [f"tip-{tipoff_number(t) // BLOCK}" for t in scored]
    return items, groups, extra


def _fig(pair: tuple[float | None, float | None]) -> str:
    return f"micro {pair[0] or 0.0:.3f} macro {pair[1] or 0.0:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--cache", help="folder keeping the distilled vectors between runs")
    parser.add_argument("--batch-from", type=int, default=None,
                        help="tip-offs from this number on: trained on in every fold, "
                             "never scored")
    parser.add_argument("--without-batch", action="store_true",
                        help="with --batch-from: leave that batch out altogether")
    parser.add_argument("--common-only", action="store_true",
                        help="the commonest words only (the vocabulary before issue 15)")
    args = parser.parse_args(argv)
    shared = Path(args.shared)
    if not (shared / "data" / FILES[0]).is_file():
        print(f"no development data at {shared / 'data'}: skipped", file=sys.stderr)
        return 0
    words = word_vectors(args.cache, domain=not args.common_only)
    if words is None:
        return 2
    words = WordVectors(words.words, words.vectors.astype(np.float16).astype(np.float32))
    items, groups, extra = population(shared, args.batch_from)
    if args.without_batch:
        extra = []
    keep = [i for i, it in enumerate(items) if labelled_row(it) is not None]
    items, groups = [items[i] for i in keep], [groups[i] for i in keep]
    probs = out_of_fold(words, items, groups, extra)
    clf = Classifier(load_round(shared / "contracts" / "round.example.yaml"), load_rules())
    lexicon = [set(clf.classify(it["text"]).disciplines) for it in items]
    gold = [list(it.get("disciplines") or []) for it in items]
    print(f"scored {len(items)} rows out of fold, {len(extra)} more trained on in every fold")
    print(f"lexicon alone        {_fig(f1_scores(gold, lexicon))}")
    for t in (0.6, 0.7, 0.8):
        print(f"union, all at {t:.2f}    "
              f"{_fig(union_f1(gold, lexicon, probs, dict.fromkeys(DISCIPLINES, t)))}")
    # Is choosing per discipline better than one threshold? Choose on half the groups, score
    # on the other half, both ways round.
    halves = [sorted({g for g in groups})[k::2] for k in (0, 1)]
    for k, half in enumerate(halves):
        a = [i for i, g in enumerate(groups) if g in half]
        b = [i for i, g in enumerate(groups) if g not in half]
        pick = choose([gold[i] for i in a], [lexicon[i] for i in a], probs[a])
        best_one = best_single([gold[i] for i in a], [lexicon[i] for i in a], probs[a])
        gb, lb, pb = [gold[i] for i in b], [lexicon[i] for i in b], probs[b]
        print(f"half {k}: chosen on it, scored on the other: per discipline "
              f"{_fig(union_f1(gb, lb, pb, pick))}; one threshold ({best_one:.2f}) "
              f"{_fig(union_f1(gb, lb, pb, dict.fromkeys(DISCIPLINES, best_one)))}; 0.70 "
              f"{_fig(union_f1(gb, lb, pb, dict.fromkeys(DISCIPLINES, 0.7)))}")
    one = best_single(gold, lexicon, probs)
    print(f"union, one threshold ({one:.2f}) "
          f"{_fig(union_f1(gold, lexicon, probs, dict.fromkeys(DISCIPLINES, one)))}")
    chosen = choose(gold, lexicon, probs, one)
    print(f"union, per discipline {_fig(union_f1(gold, lexicon, probs, chosen))}")
    print("thresholds: " + ", ".join(f"{d} {t:.2f}" for d, t in chosen.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
