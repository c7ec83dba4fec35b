"""The semantic layer shipped with the package, used when the data folder has no active model.

`default_model/` holds distilled e5 word vectors (float16; the words are jieba dictionary
entries, see semantic.py), one logistic head per discipline with its threshold, and the
route head (route_guess.py), as plain numbers, trained by `bench/build_default_model.py`.
Every array is covered by the SHA-256 digest its version names; altered arrays are refused.
No training text is shipped. It needs numpy only: no e5, no scikit-learn, no pickle. A
model trained with `intake train` and activated wins over it; `--model none` means the
lexicon alone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from intake.classify.model import DisciplineModel, ModelError
from intake.classify.semantic import INFO_FILE, OPTIONAL_ARRAYS, WEIGHTS_FILE, SemanticLayer

log = logging.getLogger(__name__)

DIRECTORY = Path(__file__).with_name("default_model")
PREFIX = "sem-default-"
DIGEST_CHARS = 10
ARRAYS = ("coef", "intercepts", "vectors", "words")


def default_model(directory: str | os.PathLike[str] | None = None) -> DisciplineModel | None:
    """The shipped layer as a model with no n-gram part (version `sem-default-<digest>`), or
    None (logged) when the package data is missing or broken. Loaded once per directory."""
    return _load(Path(directory) if directory is not None else DIRECTORY)


@functools.cache
def _load(directory: Path) -> DisciplineModel | None:
    try:
        layer = SemanticLayer.load(directory)
        if layer is None:
            log.warning("no default semantic layer in %s: keywords only", directory)
            return None
        with open(directory / WEIGHTS_FILE, "rb") as f, np.load(f, allow_pickle=False) as w:
            digest = _digest({name: w[name] for name in (*ARRAYS, *OPTIONAL_ARRAYS)
                              if name in w.files})
    except (ModelError, OSError, ValueError, KeyError) as exc:
        log.warning("default semantic layer not loaded: %s", exc)
        return None
    if layer.info.get("version") != PREFIX + digest[:DIGEST_CHARS]:
        log.warning("default semantic layer not loaded: its arrays do not match its version")
        return None
    info: dict[str, Any] = {"format": 1, "version": layer.info.get("version", PREFIX + "0"),
                            "labels": [], "ngram_range": [1, 1], "default": True}
    model = DisciplineModel(info, [], np.zeros(0), np.zeros((0, 0)), np.zeros(0))
    model.semantic = layer
    return model


def save_default(layer: SemanticLayer, directory: str | os.PathLike[str]) -> str:
    """Write the layer compactly (float16 word vectors) and return its version, which names
    the digest of what was written."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    vectors = layer.encoder.vectors.astype(np.float16)
    arrays = {"words": np.array(layer.encoder.words, dtype=np.str_), "vectors": vectors,
              "coef": layer._coef.astype(np.float32),
              "intercepts": layer._intercepts.astype(np.float32), **layer.optional_arrays()}
    version = PREFIX + _digest(arrays)[:DIGEST_CHARS]
    with open(path / WEIGHTS_FILE, "wb") as f:
        np.savez_compressed(f, **arrays)
    info = {**layer.info, "version": version, "vector_dtype": "float16"}
    (path / INFO_FILE).write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n",
                                  encoding="utf-8")
    return version


def _digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the arrays as saved (names, dtypes, shapes and bytes); the optional ones
    (thresholds, route head) count when present."""
    h = hashlib.sha256()
    for name in (*ARRAYS, *(n for n in OPTIONAL_ARRAYS if n in arrays)):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode() + a.tobytes())
    return h.hexdigest()
