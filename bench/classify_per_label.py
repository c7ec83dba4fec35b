"""Per-discipline precision, recall and F1 of the classifier on labelled files.

    .venv/bin/python bench/classify_per_label.py --round ROUND.yaml FILE.jsonl [FILE ...]
        [--model active|none|VERSION] [--lexicon-only] [--errors]

Rows are scored as `intake evaluate` scores them (intake.classify.metrics): rows whose
`disciplines` is missing or whose `label_basis` is `none_stated` are left out of the
discipline figures. Rows without discipline labels (out-of-scope messages, say) are counted
apart: how many of them received any discipline at all, by label, which is where a lexicon
loses precision. `--errors` lists the rows whose disciplines differ (only on files you may
look at: never on held-out checks).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from intake.classify import DISCIPLINES, Classifier  # noqa: E402
from intake.classify.command import pick_model  # noqa: E402
from intake.round import load_round  # noqa: E402
from intake.rules import load_rules  # noqa: E402


def per_label(gold: list[set[str]], pred: list[set[str]]) -> dict[str, tuple[int, int, int]]:
    """(true positives, false positives, false negatives) per discipline."""
    counts = {d: [0, 0, 0] for d in DISCIPLINES}
    for g, p in zip(gold, pred, strict=True):
        for d in DISCIPLINES:
            if d in g and d in p:
                counts[d][0] += 1
            elif d in p:
                counts[d][1] += 1
            elif d in g:
                counts[d][2] += 1
    return {d: (c[0], c[1], c[2]) for d, c in counts.items()}


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "  n/a"


def table(counts: dict[str, tuple[int, int, int]]) -> str:
    lines = [f"{'discipline':<16}{'gold':>6}{'pred':>6}{'tp':>5}{'prec':>8}{'recall':>8}"
             f"{'f1':>8}"]
    total = [0, 0, 0]
    f1s = []
    for d, (tp, fp, fn) in counts.items():
        total = [total[0] + tp, total[1] + fp, total[2] + fn]
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
        lines.append(f"{d:<16}{tp + fn:>6}{tp + fp:>6}{tp:>5}{_ratio(tp, tp + fp):>8}"
                     f"{_ratio(tp, tp + fn):>8}{_ratio(2 * tp, 2 * tp + fp + fn):>8}")
    tp, fp, fn = total
    lines.append(f"{'micro':<16}{tp + fn:>6}{tp + fp:>6}{tp:>5}{_ratio(tp, tp + fp):>8}"
                 f"{_ratio(tp, tp + fn):>8}{_ratio(2 * tp, 2 * tp + fp + fn):>8}")
    if f1s:
        lines.append(f"{'macro':<16}{'':>33}{sum(f1s) / len(f1s):>8.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round", required=True, help="round file the items belong to")
    parser.add_argument("files", nargs="+", help="labelled JSON Lines files")
    parser.add_argument("--model", default="active",
                        help="statistical layer: active (default), none, or a saved version")
    parser.add_argument("--lexicon-only", action="store_true", help="same as --model none")
    parser.add_argument("--errors", action="store_true",
                        help="print rows whose disciplines differ (tuning files only)")
    args = parser.parse_args(argv)
    model = pick_model("none" if args.lexicon_only else args.model)
    clf = Classifier(load_round(args.round), load_rules(), model)
    print(f"classifier {clf.version}")
    all_gold: list[set[str]] = []
    all_pred: list[set[str]] = []
    for path in args.files:
        rows = [json.loads(line) for line in Path(path).read_text("utf-8").splitlines()
                if line.strip()]
        gold: list[set[str]] = []
        pred: list[set[str]] = []
        unlabelled = Counter()
        unlabelled_rows = unlabelled_hit = 0
        for row in rows:
            got = clf.classify(row["text"], channel=row.get("channel")).to_contract()
            found = set(got.get("disciplines", []))
            if row.get("disciplines") is None or row.get("label_basis") == "none_stated":
                unlabelled_rows += 1
                unlabelled_hit += bool(found)
                unlabelled.update(found)
                continue
            want = set(row["disciplines"])
            gold.append(want)
            pred.append(found)
            if args.errors and want != found:
                print(f"  {row.get('id')}: gold {sorted(want)} got {sorted(found)} "
                      f"| {row['text'][:90]}")
        print(f"\n{path} ({len(gold)} rows with disciplines)")
        if gold:
            print(table(per_label(gold, pred)))
        if unlabelled_rows:
            labels = ", ".join(f"{d} {n}" for d, n in unlabelled.most_common()) or "none"
            print(f"rows without discipline labels: {unlabelled_rows}, given any discipline: "
                  f"{unlabelled_hit} ({labels})")
        all_gold += gold
        all_pred += pred
    if len(args.files) > 1 and all_gold:
        print(f"\nall ({len(all_gold)} rows with disciplines)")
        print(table(per_label(all_gold, all_pred)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
