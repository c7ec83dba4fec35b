"""Does the shipped default semantic layer help? The whole classifier with the lexicon alone
against lexicon + the default layer (distilled e5 word vectors, float16, heads trained as
bench/build_default_model.py trains them), optionally with its accusation head for scope.

    .venv/bin/python bench/classify_default.py [--shared ../shared] [--cache DIR] [--words N]
        [--dims D]

- dev and the moved rounds of bench/rounds/: 5 folds grouped by source (a case notice's page,
  otherwise the row); each fold's heads learn from the other folds' dev rows (+ the project's
  sample sentences), never from the texts they score.
- authored (tests/fixtures/authored_tipoffs.jsonl under its own round): heads trained on all
  dev rows; a measure only, never trained or tuned on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from build_default_model import FILES, dev_items, train_layer, word_vectors  # noqa: E402
from classify_unseen import moved_rows, mover  # noqa: E402

from intake.classify import Classifier  # noqa: E402
from intake.classify.command import format_table  # noqa: E402
from intake.classify.default import default_model  # noqa: E402
from intake.classify.metrics import score  # noqa: E402
from intake.classify.model import DisciplineModel  # noqa: E402
from intake.classify.semantic import WordVectors  # noqa: E402
from intake.round import load_round  # noqa: E402
from intake.rules import load_rules  # noqa: E402

AUTHORED = ROOT / "tests" / "fixtures" / "authored_tipoffs.jsonl"
AUTHORED_ROUND = ROOT / "tests" / "fixtures" / "authored_round.yaml"


class _WithAccusation(DisciplineModel):
    """The default model whose semantic accusation head also decides scope."""

    def accusation_score(self, text: str) -> float | None:
        return self.semantic.accusation_score(text)


def _model(layer, accusation: bool) -> DisciplineModel:  # type: ignore[no-untyped-def]
    cls = _WithAccusation if accusation else DisciplineModel
    info = {"format": 1, "version": "bench", "labels": [], "ngram_range": [1, 1]}
    model = cls(info, [], np.zeros(0), np.zeros((0, 0)), np.zeros(0))
    model.semantic = layer
    return model


def main(argv: list[str] | None = None) -> int:
    from sklearn.model_selection import GroupKFold

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--cache", help="folder keeping the distilled vectors between runs")
    parser.add_argument("--words", type=int, default=None, help="keep the N commonest words")
    parser.add_argument("--dims", type=int, default=None, help="keep the first D dimensions")
    args = parser.parse_args(argv)
    data = Path(args.shared) / "data"
    if not all((data / name).is_file() for name in FILES):
        print(f"no development data at {data}: skipped", file=sys.stderr)
        return 0
    words = word_vectors(args.cache)
    if words is None:
        return 2
    n = args.words or len(words.words)
    vectors = words.vectors[:n, :args.dims].astype(np.float16).astype(np.float32)
    words = WordVectors(words.words[:n], vectors)
    items, groups = dev_items(data)
    rules = load_rules()
    dev_round = load_round(data.parent / "contracts" / "round.example.yaml")
    rounds = [("dev", dev_round, items)]
    for path in sorted((ROOT / "bench" / "rounds").glob("*.yaml")):
        new = load_round(path)
        rounds.append((path.stem, new, moved_rows(items, mover(dev_round, new))))
    folds = list(GroupKFold(n_splits=5).split(items, groups=groups))
    layers = [train_layer(words, [items[i] for i in tr]) for tr, _ in folds]
    # The shipped layer's thresholds (chosen out of fold on dev and the training tip-offs)
    # and route head (trained on the development messages among others: its dev routes are
    # in-sample) go with each fold's heads.
    shipped = default_model()
    for layer in (layers if shipped is not None else []):
        layer.thresholds = dict(shipped.semantic.thresholds)
        layer.route = shipped.semantic.route
    variants = ("lexicon", "+default", "+default+accusation")
    results = []
    for name, rnd, rows in rounds:
        for variant in variants:
            preds: list[dict] = [{}] * len(rows)
            for (_, te), layer in zip(folds, layers, strict=True):
                model = None if variant == "lexicon" else _model(layer, "accusation" in variant)
                clf = Classifier(rnd, rules, model)
                for i in te:
                    preds[i] = clf.classify(rows[i]["text"], channel=rows[i].get("channel")
                                            ).to_contract()
            results.append((f"{name} {variant}", score(rows, preds)))
    authored = [json.loads(line) for line in AUTHORED.read_text("utf-8").splitlines()
                if line.strip()]
    layer = train_layer(words, items)
    if shipped is not None:
        layer.thresholds = dict(shipped.semantic.thresholds)
        layer.route = shipped.semantic.route
    for variant in variants:
        model = None if variant == "lexicon" else _model(layer, "accusation" in variant)
        clf = Classifier(load_round(AUTHORED_ROUND), rules, model)
        preds = [clf.classify(r["text"], channel=r.get("channel")).to_contract()
                 for r in authored]
        results.append((f"authored {variant}", score(authored, preds)))
    print(f"words {n}, dims {vectors.shape[1]} (float16)")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
