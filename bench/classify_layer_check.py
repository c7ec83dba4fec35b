"""The default semantic layer measured where it must generalise: out of fold on the training
population, and on the check sets of rounds it never saw.

    .venv/bin/python bench/classify_layer_check.py [--shared ../shared] [--cache DIR]
        [--without train_tipoffs2.jsonl ...] [--set engine.NAME=VALUE ...] [--no-folds]

- folds: the development files (grouped by source: a case notice's page, otherwise the row)
  and the training tip-offs (tests/fixtures/train_*.jsonl, grouped in blocks of 20
  consecutive rows of a file, which were written together about the same conduct); five
  folds, each fold's heads learn from the other folds and the sample sentences. Scored: the
  whole classifier's disciplines (lexicon and layer, as the engine combines them), dev and
  tip-offs apart.
- checks: heads and route head trained on everything (as bench/build_default_model.py
  trains them), then the whole classifier on the layer's check set (tipoff_check.jsonl), the
  held-out check (heldout_check.jsonl) and the authored set, each under its own round. These
  are totals only: never read their rows' errors to tune.
- `--train-only FILE` trains on a training file in every fold without scoring it, and
  `--without FILE` leaves it out: the same population then shows whether that batch helps.
- `--set engine.SEMANTIC_THRESHOLD=0.6` (or semantic.NAME) changes a module constant for the
  run, to compare variants of how the layer's labels combine with the lexicon.
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

import build_default_model as build  # noqa: E402

from intake.classify import DISCIPLINES, Classifier, engine, semantic  # noqa: E402
from intake.classify.command import format_table  # noqa: E402
from intake.classify.metrics import f1_scores, score  # noqa: E402
from intake.classify.model import DisciplineModel  # noqa: E402
from intake.classify.route_guess import RouteHead  # noqa: E402
from intake.classify.semantic import SemanticLayer, WordVectors  # noqa: E402
from intake.classify.training import label_prf, labelled_row  # noqa: E402
from intake.round import load_round  # noqa: E402
from intake.rules import load_rules  # noqa: E402
from tests.sample_disciplines import sample_rows  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
CHECKS = (("tipoff_check", "tipoff_check.jsonl", "tipoff_round.yaml"),
          ("heldout_check", "heldout_check.jsonl", "check_round.yaml"),
          ("authored", "authored_tipoffs.jsonl", "authored_round.yaml"))
BLOCK = 20
TRAIN_ONLY: set[str] = set()  # training files trained on in every fold, never scored


def as_model(layer: SemanticLayer) -> DisciplineModel:
    info = {"format": 1, "version": "bench", "labels": [], "ngram_range": [1, 1]}
    model = DisciplineModel(info, [], np.zeros(0), np.zeros((0, 0)), np.zeros(0))
    model.semantic = layer
    return model


def tipoffs(without: set[str]) -> tuple[list[dict], list[str]]:
    items, groups = [], []
    for path in build.training_files():
        if path.name in without:
            continue
        if path.name in TRAIN_ONLY:
            continue
        for n, item in enumerate(build._jsonl(path)):
            items.append(item)
            groups.append(f"{path.stem}-{n // BLOCK}")
    return items, groups


def train(words: WordVectors, items: list[dict]) -> SemanticLayer:
    rows = [r for r in map(labelled_row, items) if r is not None]
    return SemanticLayer.train(words, rows + sample_rows())


def _set(assignments: list[str]) -> None:
    modules = {"engine": engine, "semantic": semantic}
    for assignment in assignments:
        name, value = assignment.split("=", 1)
        module, attr = name.split(".", 1)
        old = getattr(modules[module], attr)
        setattr(modules[module], attr, type(old)(value) if not isinstance(old, bool)
                else value.lower() in ("1", "true", "yes"))
        print(f"{name} = {getattr(modules[module], attr)!r} (was {old!r})")


def main(argv: list[str] | None = None) -> int:
    from sklearn.model_selection import GroupKFold

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--cache", help="folder keeping the distilled vectors between runs")
    parser.add_argument("--without", action="append", default=[],
                        help="leave this training file out (its name)")
    parser.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE")
    parser.add_argument("--train-only", action="append", default=[],
                        help="a training file whose rows join every fold's training but are "
                             "never scored (does a new batch help the same population?)")
    parser.add_argument("--no-folds", action="store_true")
    parser.add_argument("--detail", action="store_true", help="per-label figures of the folds")
    parser.add_argument("--errors", action="store_true",
                        help="the training tip-offs the folds get wrong (training text: "
                             "free to read; the check sets' rows are never listed)")
    parser.add_argument("--lexicon", action="store_true", help="also score the lexicon alone")
    args = parser.parse_args(argv)
    data = Path(args.shared) / "data"
    if not all((data / name).is_file() for name in build.FILES):
        print(f"no development data at {data}: skipped", file=sys.stderr)
        return 0
    _set(args.set)
    words = build.word_vectors(args.cache)
    if words is None:
        return 2
    words = WordVectors(words.words, words.vectors.astype(np.float16).astype(np.float32))
    dev, dev_groups = build.dev_items(data)
    TRAIN_ONLY.update(args.train_only)
    tips, tip_groups = tipoffs(set(args.without))
    extra = [item for path in build.training_files() if path.name in TRAIN_ONLY
             and path.name not in args.without for item in build._jsonl(path)]
    rules = load_rules()
    dev_round = load_round(data.parent / "contracts" / "round.example.yaml")
    results = []
    if not args.no_folds:
        items, groups = dev + tips, dev_groups + tip_groups
        # Scored as metrics.score scores: rows with a discipline list, not `none_stated`.
        scored = [i for i, it in enumerate(items) if isinstance(it.get("disciplines"), list)
                  and it.get("label_basis") != "none_stated"]
        quiet = [i for i, it in enumerate(items) if it.get("disciplines") is None]
        pred: dict[int, list[str]] = {}
        for tr, te in GroupKFold(n_splits=5).split(items, groups=groups):
            layer = train(words, [items[i] for i in tr] + extra)
            clf = Classifier(dev_round, rules, as_model(layer))
            for i in set(te) & set(scored + quiet):
                pred[i] = list(clf.classify(items[i]["text"]).disciplines)
        for name, part in (("dev", range(len(dev))), ("tips", range(len(dev), len(items)))):
            idx = [i for i in part if i in scored]
            micro, macro = f1_scores([items[i]["disciplines"] for i in idx],
                                     [pred[i] for i in idx])
            # Rows accusing nobody (disciplines null): how many get a discipline anyway.
            none = [i for i in part if i in quiet]
            labelled = sum(1 for i in none if pred[i])
            print(f"folds {name:5s} n={len(idx):4d} micro {micro:.3f} macro {macro:.3f}; "
                  f"labelled {labelled} of {len(none)} accusing nobody")
            if args.detail:
                gold, got = [items[i]["disciplines"] for i in idx], [pred[i] for i in idx]
                print("  " + "; ".join(
                    f"{d} P {p or 0:.2f} R {r or 0:.2f}"
                    for d in DISCIPLINES for p, r, _ in [label_prf(gold, got, d)]))
            if args.errors and name == "tips":
                for i in idx:
                    if set(pred[i]) != set(items[i]["disciplines"]):
                        print(f"  {items[i]['id']} gold {items[i]['disciplines']} got "
                              f"{pred[i]}: {items[i]['text'][:60]}")
    layer = train(words, dev + tips + extra)
    layer.route = RouteHead.train(words, [r for rows in build.route_sources(data).values()
                                          for r in rows])
    for name, file, round_file in CHECKS:
        rows = build._jsonl(FIXTURES / file)
        variants = [("layer", as_model(layer))] + ([("lexicon", None)] if args.lexicon else [])
        for variant, model in variants:
            clf = Classifier(load_round(FIXTURES / round_file), rules, model)
            preds = [clf.classify(r["text"], channel=r.get("channel")).to_contract()
                     for r in rows]
            results.append((f"{name} {variant}", score(rows, preds)))
    print(format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
