"""Score the classifier on rounds it has never seen: the development texts moved into
invented rounds, beside the development round itself.

    .venv/bin/python bench/classify_unseen.py [--shared ../shared] [--model] [--errors ROUND]
        [--authored FILE.jsonl --authored-round ROUND.yaml]

Each round file in bench/rounds/ lists its roster in the example round's order; every place,
village, county and roster name of the development texts (and their forms of address: 李书记,
老王主任, 建国书记, also OCR-spaced ones) is replaced by the invented round's counterpart, so
a rule that only knows the example round's names fails there. Labels do not change (they
name roles and disciplines, not people); `note` is moved as well.

`--model` adds the statistical layer with folds grouped by source: each file's items are
classified by a model trained on the other files only. `--authored` adds a labelled file of
texts written without looking at the classifier, scored under its own round: a measure only,
never a source of rules (its errors are not printed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procs import items_per_second  # noqa: E402

from intake.classify import Classifier  # noqa: E402
from intake.classify.command import format_table  # noqa: E402
from intake.classify.metrics import score  # noqa: E402
from intake.round import Round, load_round  # noqa: E402
from intake.rules import load_rules  # noqa: E402

FILES = ("cases_dev.jsonl", "messages_dev.jsonl", "complaints_dev.jsonl")
ROUNDS = ROOT / "bench" / "rounds"
# Words a surname or given name is followed by when it addresses a post holder.
TITLES = ("副镇长", "镇长", "书记", "支书", "主任", "所长", "站长", "会计", "组长", "委员", "主席",
          "部长", "同志")


def mover(old: Round, new: Round) -> Callable[[str], str]:
    """A function that rewrites a text of round `old` into round `new`."""
    if len(old.roster) != len(new.roster):
        raise ValueError(f"{new.name}: roster must list {len(old.roster)} members in order")
    pairs: dict[str, str] = {}

    def pair(a: str, b: str) -> None:
        if a and a not in pairs:
            pairs[a] = b

    for a, b in zip(old.unit.places, new.unit.places, strict=True):
        pair(a, b)
    for a, b in zip(old.unit.subordinates, new.unit.subordinates, strict=True):
        pair(a, b)
    pair(old.unit.county, new.unit.county)
    pair(old.unit.county.rstrip("县市区"), new.unit.county.rstrip("县市区"))
    titled: dict[str, str] = {}
    for a, b in zip(old.roster, new.roster, strict=True):
        pair(a.name, b.name)
        titled[a.name[0]] = b.name[0]
        if len(a.name) >= 3:
            # "建国书记" → the new given name, or the whole new name when it has one character.
            titled[a.name[1:]] = b.name[1:] if len(b.name) >= 3 else b.name
    title = "(?=\\s?(?:" + "|".join(_spaced(t) for t in TITLES) + "))"
    alternatives = [(_spaced(k), k) for k in pairs] + [(_spaced(k) + title, k) for k in titled]
    alternatives.sort(key=lambda p: len(p[1]), reverse=True)
    pattern = re.compile("|".join(f"(?P<g{i}>{p})" for i, (p, _) in enumerate(alternatives)))
    targets = [pairs.get(k) or titled[k] for _, k in alternatives]

    def replace(m: re.Match[str]) -> str:
        target = targets[int(m.lastgroup[1:])]  # type: ignore[index]
        return " ".join(target) if re.search(r"\s", m.group()) else target

    return lambda text: pattern.sub(replace, text)


def _spaced(word: str) -> str:
    """The word, also as OCR writes it with a space between characters."""
    return "\\s?".join(map(re.escape, word))


def load_rows(shared: Path) -> dict[str, list[dict]]:
    data = shared / "data"
    return {name: [json.loads(line) for line in (data / name).read_text("utf-8").splitlines()
                   if line.strip()] for name in FILES}


def moved_rows(rows: list[dict], move: Callable[[str], str]) -> list[dict]:
    out = []
    for r in rows:
        m = dict(r, text=move(r["text"]))
        if isinstance(r.get("note"), str):
            m["note"] = move(r["note"])
        out.append(m)
    return out


def evaluate(clf_for: Callable[[str], Classifier], files: dict[str, list[dict]],
             errors: bool = False) -> list[tuple[str, dict]]:
    results = []
    all_rows: list[dict] = []
    all_preds: list[dict] = []
    for name, rows in files.items():
        clf = clf_for(name)
        preds = [clf.classify(r["text"], channel=r.get("channel")).to_contract() for r in rows]
        results.append((name, score(rows, preds)))
        if errors:
            from classify_dev import _print_errors

            _print_errors(rows, preds)
        all_rows += rows
        all_preds += preds
    results.append(("all", score(all_rows, all_preds)))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--model", action="store_true",
                        help="add the statistical layer, trained leaving each file out")
    parser.add_argument("--errors", default="", help="print wrong rows of this round (name)")
    parser.add_argument("--authored", default="", help="a labelled file written apart")
    parser.add_argument("--authored-round", default="", help="the round of --authored")
    args = parser.parse_args(argv)
    shared = Path(args.shared)
    if not (shared / "data" / FILES[0]).is_file():
        print(f"no development data at {shared / 'data'}", file=sys.stderr)
        return 2
    rules = load_rules()
    dev_round = load_round(shared / "contracts" / "round.example.yaml")
    rows = load_rows(shared)
    models = _grouped_models(rows) if args.model else {}

    rounds = [("dev", dev_round, rows)]
    for path in sorted(ROUNDS.glob("*.yaml")):
        new = load_round(path)
        move = mover(dev_round, new)
        rounds.append((path.stem, new, {n: moved_rows(r, move) for n, r in rows.items()}))

    summary = []
    for label, rnd, files in rounds:
        def clf_for(name: str, rnd: Round = rnd) -> Classifier:
            return Classifier(rnd, rules, models.get(name))

        results = evaluate(clf_for, files, errors=args.errors == label)
        print(f"\n== {label}: {rnd.unit.name}")
        print(format_table(results))
        summary.append((label, results[-1][1]))
    if args.authored:
        authored = [json.loads(line) for line in
                    Path(args.authored).read_text("utf-8").splitlines() if line.strip()]
        rnd = load_round(Path(args.authored_round))
        # Never trained on, never printed row by row; the model (if any) learnt from all the
        # development files.
        clf = Classifier(rnd, rules, models.get("authored"))
        preds = [clf.classify(r["text"], channel=r.get("channel")).to_contract()
                 for r in authored]
        summary.append(("authored", score(authored, preds)))
    print("\n== overall" + (" (model, folds grouped by file)" if models else " (keywords)"))
    print(format_table(summary))

    texts = [r["text"] for r in rows["complaints_dev.jsonl"] + rows["cases_dev.jsonl"]]
    clf = Classifier(rounds[-1][1], rules)
    print(f"speed: {items_per_second(clf.classify, texts):,.0f} items/s (keywords, one core)")
    return 0


def _grouped_models(rows: dict[str, list[dict]]) -> dict:
    """One model per file, trained on the labelled rows of the other files."""
    from intake.classify.model import DisciplineModel
    from intake.classify.training import labelled_row

    models = {}
    for name in rows:
        # The authored set is never trained on: it only measures.
        train = [row for other, items in rows.items() if other != name and other in FILES
                 for row in map(labelled_row, items) if row is not None]
        models[name] = DisciplineModel.train(train, version="grouped")
    every = [row for name in FILES for row in map(labelled_row, rows[name]) if row is not None]
    models["authored"] = DisciplineModel.train(every, version="all")
    return models


if __name__ == "__main__":
    raise SystemExit(main())
