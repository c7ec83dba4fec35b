"""A department guess for items no route rule matches, from worked examples.

Owns `routing_rules/route_examples.yaml` (department → short texts written from domain.md §5)
and the nearest-example vote over the semantic layer's word vectors. The router's rules stay
first; the guess only replaces the bare fallback, and the item stays marked for review.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from intake.classify.semantic import WordVectors
from intake.rules import default_directory

EXAMPLES_FILE = "route_examples.yaml"
NEIGHBOURS = 3


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
        path = (directory or default_directory()) / EXAMPLES_FILE
        if not path.is_file():
            return None
        examples = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        examples = {str(k): [str(t) for t in v] for k, v in examples.items() if v}
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
