"""The statistical layer of the discipline classifier: character n-gram TF-IDF and one
logistic regression per discipline, plus one for "the text accuses someone" (`accusation`,
positive for every row with a discipline), which the engine uses for scope.

Training needs scikit-learn. A saved model is a directory holding `model.json` and
`weights.npz` (no pickle); loading and inference need only numpy, and reproduce the
vectorizer's arithmetic exactly (sublinear tf, idf, l2 norm), so a loaded model gives the
probabilities scikit-learn gave.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from intake.classify import DISCIPLINES

FORMAT = 1
ACCUSATION = "accusation"
LABELS = (*DISCIPLINES, ACCUSATION)
# Chosen by cross-validation on the development files (bench/classify_cv.py): bigrams with
# min_df=3 beat longer n-grams and min_df=2 on leave-one-file-out and on 5-fold splits.
NGRAM_RANGE = (1, 2)
MIN_DF = 3
C = 1.0
# A label needs this many positive (and negative) rows to be trained.
MIN_ROWS = 5

# What a version may be called: it names a directory.
# At most 38 characters, so "keywords-1+" and the name fit classifications.model_version (50).
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,37}")
# Longest character n-gram a saved model may ask for (a larger one would make every item slow).
MAX_NGRAM = 5

_CJK = "\u3000-\u303f\u4e00-\u9fff"
# OCR often spaces out CJK characters ("西 坡 村"); the model reads them joined up.
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}0-9])")
_SPACE = re.compile(r"[\s\x00]+")  # NUL too: numpy string arrays drop it


class ModelError(ValueError):
    """A model cannot be trained, found or read; the message is for the user."""


def normalise(text: str) -> str:
    """The text as the model reads it: NFKC, lower case, OCR gaps closed, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", _CJK_GAP.sub("", text)).strip()


class DisciplineModel:
    """One binary TF-IDF + logistic regression model per trained discipline."""

    def __init__(self, info: dict[str, Any], terms: Sequence[str], idf: np.ndarray,
                 coef: np.ndarray, intercepts: np.ndarray) -> None:
        self.info = info  # what model.json holds; callers may add figures before save()
        self.version: str = info["version"]
        self.labels: tuple[str, ...] = tuple(info["labels"])
        self._min_n, self._max_n = (int(n) for n in info["ngram_range"])
        self._terms = list(terms)
        self._index = {t: i for i, t in enumerate(self._terms)}
        self._idf = np.asarray(idf, dtype=np.float64)
        self._coef = np.asarray(coef, dtype=np.float64)
        self._intercepts = np.asarray(intercepts, dtype=np.float64)
        self._sklearn: tuple[Any, list[Any]] | None = None  # set by train(), for tests
        # The optional semantic layer (intake.classify.semantic), saved in the same folder.
        self.semantic: Any = None

    @classmethod
    def train(cls, rows: Sequence[tuple[str, Collection[str]]], *,
              version: str | None = None) -> DisciplineModel:
        """Fit on (text, disciplines) rows; a label with under MIN_ROWS positives (or negatives)
        is left out."""
        import sklearn
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        texts = [normalise(text) for text, _ in rows]
        label_sets = [set(labels) | ({ACCUSATION} if set(labels) & set(DISCIPLINES) else set())
                      for _, labels in rows]
        counts = {d: sum(1 for s in label_sets if d in s) for d in LABELS}
        labels = [d for d in LABELS
                  if counts[d] >= MIN_ROWS and len(rows) - counts[d] >= MIN_ROWS]
        if labels == [ACCUSATION]:
            labels = []
        if not labels:
            raise ModelError(f"没有可训练的类别：每个类别至少需要 {MIN_ROWS} 条正例和 "
                             f"{MIN_ROWS} 条反例。")
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=NGRAM_RANGE, min_df=MIN_DF,
                                     sublinear_tf=True, lowercase=False)
        try:
            x = vectorizer.fit_transform(texts)
        except ValueError as exc:  # no n-gram reaches min_df
            raise ModelError("训练文本太少或太短，无法建立特征。") from exc
        fitted = []
        for label in labels:
            y = np.array([label in s for s in label_sets])
            lr = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=0)
            fitted.append(lr.fit(x, y))
        terms = [str(t) for t in vectorizer.get_feature_names_out()]
        idf = vectorizer.idf_.astype(np.float64)
        coef = np.vstack([lr.coef_[0] for lr in fitted])
        intercepts = np.array([lr.intercept_[0] for lr in fitted], dtype=np.float64)
        now = datetime.now(UTC).replace(microsecond=0)
        if version is None:
            version = f"lr-{now:%Y%m%d-%H%M%S}-{_digest(labels, terms, idf, coef, intercepts)[:8]}"
        info: dict[str, Any] = {
            "format": FORMAT,
            "version": version,
            "labels": labels,
            "trained_at": now.isoformat(),
            "ngram_range": list(NGRAM_RANGE),
            "min_df": MIN_DF,
            "C": C,
            "rows": len(rows),
            "label_rows": counts,
            "untrained": [d for d in LABELS if d not in labels],
            "terms": len(terms),
            "sklearn_version": sklearn.__version__,
        }
        model = cls(info, terms, idf, coef, intercepts)
        model._sklearn = (vectorizer, fitted)
        return model

    def save(self, models_dir: str | os.PathLike[str]) -> Path:
        """Write `<models_dir>/<version>/` (model.json, weights.npz) and return its path."""
        if not VERSION_NAME.fullmatch(self.version):
            raise ModelError(f"模型版本名无效：{self.version}")
        root = Path(models_dir)
        root.mkdir(parents=True, exist_ok=True)
        target = root / self.version
        if target.exists():
            raise ModelError(f"模型版本已存在：{self.version}")
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.version}.", dir=root))
        try:
            np.savez(tmp / "weights.npz", terms=np.array(self._terms, dtype=np.str_),
                     idf=self._idf, coef=self._coef, intercepts=self._intercepts)
            if self.semantic is not None:
                self.semantic.save(tmp)
            (tmp / "model.json").write_text(
                json.dumps(self.info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, target)  # a half-written model is never listed
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DisciplineModel:
        """Read a saved model directory; ModelError if it is missing or inconsistent."""
        path = Path(path)
        try:
            info = json.loads((path / "model.json").read_text(encoding="utf-8"))
            with (open(path / "weights.npz", "rb") as f,
                  np.load(f, allow_pickle=False) as w):
                terms, idf, coef, intercepts = w["terms"], w["idf"], w["coef"], w["intercepts"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelError(f"无法读取模型 {path.name}：{exc}") from exc
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise ModelError(f"模型 {path.name} 的格式不受支持。")
        labels = info.get("labels")
        ngrams = info.get("ngram_range")
        if (info.get("version") != path.name or not isinstance(labels, list)
                or not set(labels) <= set(LABELS)
                or not (isinstance(ngrams, list) and len(ngrams) == 2
                        and all(isinstance(n, int) and 1 <= n <= MAX_NGRAM for n in ngrams)
                        and ngrams[0] <= ngrams[1])
                or terms.dtype.kind != "U"
                or any(a.dtype.kind != "f" for a in (idf, coef, intercepts))
                or terms.ndim != 1 or idf.shape != terms.shape
                or coef.shape != (len(labels), len(terms))
                or intercepts.shape != (len(labels),)
                or not all(np.isfinite(a).all() for a in (idf, coef, intercepts))):
            raise ModelError(f"模型 {path.name} 的内容不完整或不一致。")
        model = cls(info, terms.tolist(), idf, coef, intercepts)
        from intake.classify.semantic import SemanticLayer

        model.semantic = SemanticLayer.load(path)
        return model

    def probabilities(self, text: str) -> dict[str, float]:
        """Probability of each trained label for the text (`accusation` included if trained)."""
        return dict(zip(self.labels, self._predict(text).tolist(), strict=True))

    def accusation_score(self, text: str) -> float | None:
        """Probability that the text accuses someone of wrongdoing; None when the model has
        no accusation head (models trained before it existed)."""
        if ACCUSATION not in self.labels:
            return None
        return self.clause_scores(text, ACCUSATION, [(0, len(text))])[0]

    def clause_scores(self, text: str, label: str,
                      spans: Sequence[tuple[int, int]]) -> list[float]:
        """Probability of `label` for each span text[start:end] (0.0 for an untrained label)."""
        if label not in self.labels:
            return [0.0] * len(spans)
        row = self.labels.index(label)
        return [float(self._predict(text[start:end], row)) for start, end in spans]

    def _predict(self, text: str, row: int | None = None) -> np.ndarray:
        idx, x = self._features(text)
        coef = self._coef if row is None else self._coef[row]
        z = coef[..., idx] @ x + (self._intercepts if row is None else self._intercepts[row])
        return 1.0 / (1.0 + np.exp(-z))

    def _features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary indices and l2-normalised sublinear tf-idf weights of the text."""
        norm = normalise(text)
        grams: list[str] = []
        for n in range(self._min_n, min(self._max_n, len(norm)) + 1):
            grams += list(norm) if n == 1 else [norm[i:i + n] for i in range(len(norm) - n + 1)]
        index = self._index
        found = [(index[g], c) for g, c in Counter(grams).items() if g in index]
        if not found:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        idx = np.fromiter((i for i, _ in found), dtype=np.intp, count=len(found))
        tf = np.fromiter((c for _, c in found), dtype=np.float64, count=len(found))
        x = (np.log(tf) + 1.0) * self._idf[idx]
        length = np.sqrt(x @ x)
        return idx, (x / length if length > 0 else x)


def _digest(labels: Sequence[str], terms: Sequence[str], *arrays: np.ndarray) -> str:
    h = hashlib.sha256("\x00".join(labels).encode() + b"\x01" + "\x00".join(terms).encode())
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()
