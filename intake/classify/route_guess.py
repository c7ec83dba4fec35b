"""A department guess for items no route rule matches.

Owns `routing_rules/route_examples.yaml` (department → short texts written from domain.md §5),
the route head (one softmax over the semantic layer's word vectors, trained on those examples
and the project's routed texts by `bench/build_default_model.py`, shipped in the default
layer) and the nearest-example vote used when a layer has no head. The router's rules stay
first; the guess only replaces the bare fallback, and the item stays marked for review.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from intake.classify.semantic import WordVectors
from intake.rules import default_directory

EXAMPLES_FILE = "route_examples.yaml"
NEIGHBOURS = 3
# Regularisation of the route head, chosen on folds of its training texts grouped by source
# file (bench/route_head.py), never on the check sets.
ROUTE_C = 1000.0


def load_examples(directory: Path | None = None) -> dict[str, list[str]]:
    """Department → worked example texts from the rules directory ({} when absent)."""
    path = (directory or default_directory()) / EXAMPLES_FILE
    if not path.is_file():
        return {}
    examples = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): [str(t) for t in v] for k, v in examples.items() if v}


class RouteHead:
    """A multinomial logistic head over a text's word vector: department probabilities."""

    def __init__(self, labels: Sequence[str], coef: np.ndarray, intercepts: np.ndarray) -> None:
        self.labels = tuple(labels)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercepts = np.asarray(intercepts, dtype=np.float64)
        if (self.coef.ndim != 2 or self.coef.shape[0] != len(self.labels)
                or self.intercepts.shape != (len(self.labels),)
                or not (np.isfinite(self.coef).all() and np.isfinite(self.intercepts).all())):
            raise ValueError("route head arrays do not fit its labels")

    @classmethod
    def train(cls, encoder: WordVectors, rows: Sequence[tuple[str, str]],
              c: float = ROUTE_C) -> RouteHead:
        """Fit on (text, department) rows (needs scikit-learn; training only)."""
        from sklearn.linear_model import LogisticRegression

        x = np.vstack([encoder.embed(t) for t, _ in rows])
        y = [d for _, d in rows]
        lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced",
                                random_state=0).fit(x, y)
        coef, intercepts = lr.coef_, lr.intercept_
        if len(lr.classes_) == 2:
            # scikit-learn fits two classes as one logit for the second; the softmax of
            # (0, z) is that sigmoid, so the head keeps one row per department.
            coef = np.vstack([np.zeros_like(coef), coef])
            intercepts = np.concatenate([np.zeros_like(intercepts), intercepts])
        return cls([str(label) for label in lr.classes_], coef, intercepts)

    def probabilities(self, vector: np.ndarray) -> dict[str, float]:
        z = self.coef @ vector + self.intercepts
        z = np.exp(z - z.max())
        return dict(zip(self.labels, (z / z.sum()).tolist(), strict=True))

    def guess(self, encoder: WordVectors, text: str) -> str | None:
        """The likeliest department; None for a text with no known words."""
        v = encoder.embed(text)
        if not v.any():
            return None
        p = self.probabilities(v)
        return max(p, key=lambda d: p[d])


class RouteGuesser:
    """Votes of the nearest worked examples (cosine on centred text vectors)."""

    def __init__(self, encoder: WordVectors, examples: dict[str, list[str]]) -> None:
        self._encoder = encoder
        self._labels = [dept for dept, texts in examples.items() for _ in texts]
        vectors = np.stack([encoder.embed(t) for texts in examples.values() for t in texts])
        # Sums of word vectors share a large common direction; without it cosine separates.
        self._mean = vectors.mean(axis=0)
        self._vectors = _unit(vectors - self._mean)

    @classmethod
    def load(cls, encoder: WordVectors, directory: Path | None = None) -> RouteGuesser | None:
        """From the rules directory's examples file; None when it is absent or empty."""
        examples = load_examples(directory)
        return cls(encoder, examples) if examples else None

    def guess(self, text: str) -> str | None:
        """The department most of the nearest examples belong to; None for a text with no
        known words."""
        v = self._encoder.embed(text)
        if not v.any():
            return None
        sims = self._vectors @ _unit((v - self._mean)[None, :])[0]
        votes: dict[str, float] = {}
        for j in np.argsort(-sims)[:NEIGHBOURS]:
            votes[self._labels[j]] = votes.get(self._labels[j], 0.0) + float(sims[j])
        return max(votes, key=lambda d: votes[d])


def _unit(m: np.ndarray) -> np.ndarray:
    return m / (np.linalg.norm(m, axis=1, keepdims=True) + 1e-12)
