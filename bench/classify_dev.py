"""Score the classifier on the development sets and measure its speed.

    .venv/bin/python bench/classify_dev.py [--shared ../shared] [--errors]

Uses shared/contracts/round.example.yaml as the round for every file, as
shared/data/README.md says, and the scoring rules of intake.classify.metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procs import items_per_second  # noqa: E402

from intake.classify import Classifier  # noqa: E402
from intake.classify.command import format_table  # noqa: E402
from intake.classify.metrics import score  # noqa: E402
from intake.round import load_round  # noqa: E402
from intake.rules import load_rules  # noqa: E402

FILES = ("cases_dev.jsonl", "messages_dev.jsonl", "complaints_dev.jsonl")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--errors", action="store_true", help="print the rows scored wrong")
    args = parser.parse_args(argv)
    shared = Path(args.shared)
    data = shared / "data"
    if not data.is_dir():
        print(f"no development data at {data}", file=sys.stderr)
        return 2
    clf = Classifier(load_round(shared / "contracts" / "round.example.yaml"), load_rules())

    all_rows: list[dict] = []
    all_preds: list[dict] = []
    results = []
    for name in FILES:
        rows = [json.loads(line) for line in (data / name).read_text("utf-8").splitlines()
                if line.strip()]
        preds = [clf.classify(r["text"], channel=r.get("channel")).to_contract() for r in rows]
        results.append((name, score(rows, preds)))
        if args.errors:
            _print_errors(rows, preds)
        all_rows += rows
        all_preds += preds
    results.append(("all", score(all_rows, all_preds)))
    print(format_table(results))

    texts = [r["text"] for r in all_rows]
    chars = sum(len(t) for t in texts) / len(texts)
    print(f"speed: {items_per_second(clf.classify, texts):,.0f} items/s "
          f"(mean {chars:.0f} chars, one core, keywords alone)")

    # With a statistical layer: trained on the project's own sample sentences, so the speed
    # is measured without fitting the development files.
    from intake.classify.model import DisciplineModel
    from tests.sample_disciplines import sample_rows

    with_model = Classifier(clf.round, clf.rules, DisciplineModel.train(sample_rows()))
    print(f"speed: {items_per_second(with_model.classify, texts):,.0f} items/s "
          "(with the statistical layer)")
    return 0


def _print_errors(rows: list[dict], preds: list[dict]) -> None:
    from intake.classify.metrics import first_route_ok

    for r, p in zip(rows, preds, strict=True):
        wrong = []
        if isinstance(r.get("in_scope"), bool) and r["in_scope"] != p["in_scope"]:
            wrong.append(f"scope {p['in_scope']}")
        if r.get("role") and not r.get("role_ambiguous") and r["role"] != p["subject_role"]:
            wrong.append(f"role {p['subject_role']}≠{r['role']}")
        if (r.get("disciplines") is not None and r.get("label_basis") != "none_stated"
                and set(r["disciplines"]) != set(p["disciplines"])):
            wrong.append(f"disc {p['disciplines']}≠{r['disciplines']}")
        if r.get("routes_ok") and not first_route_ok(p["routes"], r["routes_ok"]):
            wrong.append(f"route {p['routes']}∉{r['routes_ok']}")
        if wrong:
            ev = [(e["text"], e["label"], e["status"][0]) for e in p["evidence"]][:6]
            subj = [(s["mention"], s["role"]) for s in p["subjects"]][:4]
            print(f"  {r['id']}: {'; '.join(wrong)} | {subj} | {ev} | {r['text'][:70]}")


if __name__ == "__main__":
    raise SystemExit(main())
