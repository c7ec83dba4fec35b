"""The route head against the nearest-example vote, on texts no route rule decides.

    .venv/bin/python bench/route_head.py [--shared ../shared] [--cache DIR]

Training texts (department = the first acceptable route) come from three sources: the worked
examples of routing_rules/route_examples.yaml with tests/fixtures/route_tuning.jsonl (the
examples were taken from it), the
out-of-scope rows of tests/fixtures/train_tipoffs.jsonl and the development messages. Each
source in turn is left out and scored by a head trained on the others (folds grouped by
source), for each regularisation C, beside the nearest-example vote built the same way. The
check sets (route_check.jsonl, heldout_check.jsonl, the authored set) are not used here: they
are scored with the whole classifier by `intake evaluate` after the rebuild.

    .venv/bin/python bench/route_head.py --check tests/fixtures/route_check2.jsonl ...

scores the guesses alone on held-out files (their out-of-scope rows, first route acceptable),
over the shipped layer's vectors: the shipped head, a head retrained on today's sources (what a
rebuild of the default layer would ship) and the nearest-example vote; on every row, and on the
rows no route rule decides (the only rows where the classifier asks the guess). It reads the
check files only to print these totals.
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

from build_default_model import route_sources, word_vectors  # noqa: E402

from intake.classify.route_guess import RouteGuesser, RouteHead  # noqa: E402
from intake.classify.semantic import WordVectors  # noqa: E402

CS = (100.0, 300.0, 1000.0, 3000.0, 10000.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--cache", help="folder keeping the distilled vectors between runs")
    parser.add_argument("--check", nargs="+", metavar="FILE",
                        help="score the guesses alone on these held-out files instead")
    args = parser.parse_args(argv)
    if args.check:
        return check(Path(args.shared), [Path(f) for f in args.check])
    words = word_vectors(args.cache)
    if words is None:
        return 2
    # As shipped: float16 vectors.
    words = WordVectors(words.words, words.vectors.astype(np.float16).astype(np.float32))
    sources = route_sources(Path(args.shared) / "data")
    print("source sizes: " + ", ".join(f"{k} {len(v)}" for k, v in sources.items()))
    header = f"{'left out':<16}" + "".join(f"{'C=' + str(int(c)):>9}" for c in CS) + f"{'3-NN':>9}"
    print(header)
    totals = np.zeros(len(CS) + 1)
    n_all = 0
    for held, rows in sources.items():
        train = [r for name, rs in sources.items() if name != held for r in rs]
        scores = []
        for c in CS:
            head = RouteHead.train(words, train, c)
            scores.append(sum(head.guess(words, t) == d for t, d in rows))
        examples: dict[str, list[str]] = {}
        for t, d in train:
            examples.setdefault(d, []).append(t)
        knn = RouteGuesser(words, examples)
        scores.append(sum(knn.guess(t) == d for t, d in rows))
        totals += scores
        n_all += len(rows)
        print(f"{held:<16}" + "".join(f"{s / len(rows):>9.3f}" for s in scores))
    print(f"{'all':<16}" + "".join(f"{s / n_all:>9.3f}" for s in totals))
    return 0


def check(shared: Path, files: list[Path]) -> int:
    """First-route accuracy of the guesses alone on held-out files (see the docstring)."""
    import json

    from intake.classify.default import default_model
    from intake.classify.routing import Router
    from intake.rules import load_rules

    model = default_model()
    if model is None or model.semantic is None:
        print("no shipped semantic layer", file=sys.stderr)
        return 2
    words = model.semantic.encoder
    retrained = RouteHead.train(words, [r for rows in route_sources(shared / "data").values()
                                        for r in rows])
    guessers = {"shipped head": model.semantic.route, "retrained head": retrained}
    knn = RouteGuesser.load(words)
    router = Router(load_rules())
    print(f"{'file':<40}{'rows':>6}" + "".join(f"{k:>16}" for k in (*guessers, "examples"))
          + "   (rows no rule decides)")
    for path in files:
        rows = [r for r in map(json.loads, path.read_text("utf-8").splitlines())
                if r.get("in_scope") is False and r.get("routes_ok")]
        free = [r for r in rows if not any(m.rule.kind != "archive"
                                           for m in router.matches(r["text"]))]

        def right(guess, subset: list[dict]) -> int:
            return sum(guess(r["text"]) in r["routes_ok"] for r in subset)

        guesses = [(lambda t, h=h: h.guess(words, t)) for h in guessers.values() if h]
        guesses.append(knn.guess if knn else (lambda t: None))
        cells = [f"{right(g, rows) / len(rows):>9.3f} {right(g, free):>2}/{len(free):<3}"
                 for g in guesses]
        print(f"{path.name:<40}{len(rows):>6}" + "".join(f"{c:>16}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
