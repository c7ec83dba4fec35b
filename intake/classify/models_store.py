"""Trained discipline models in `<data_dir>/models/`: one directory per version, and a file
`ACTIVE` naming the version in use.

A missing or broken model never stops classification: `active_model()` then returns None,
and `ActiveModel` falls back to the default layer shipped with the package (or, without it,
the keyword layer alone).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from intake.classify.default import default_model
from intake.classify.model import VERSION_NAME, DisciplineModel, ModelError

log = logging.getLogger(__name__)

ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class ModelInfo:
    version: str
    trained_at: str
    rows: int
    labels: tuple[str, ...]
    active: bool


def models_dir(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / "models"


def active_version(data_dir: str | os.PathLike[str]) -> str | None:
    """The version named in ACTIVE, or None when there is none (or it is not a version name)."""
    try:
        version = (models_dir(data_dir) / ACTIVE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("cannot read the active model file: %s", exc)
        return None
    if not VERSION_NAME.fullmatch(version):
        log.warning("the active model file names no valid version")
        return None
    return version


def active_model(data_dir: str | os.PathLike[str]) -> DisciplineModel | None:
    """The active model, or None when none is trained or it cannot be loaded (logged)."""
    version = active_version(data_dir)
    if version is None:
        return None
    try:
        return DisciplineModel.load(models_dir(data_dir) / version)
    except Exception as exc:  # a broken model must never break classification
        log.warning("active model %s not loaded, keywords only: %s", version, exc)
        return None


def list_models(data_dir: str | os.PathLike[str]) -> list[ModelInfo]:
    """Saved models, oldest first; unreadable ones are logged and left out."""
    root = models_dir(data_dir)
    if not root.is_dir():
        return []
    current = active_version(data_dir)
    found = []
    for path in root.iterdir():
        if not path.is_dir() or not VERSION_NAME.fullmatch(path.name):
            continue
        try:
            info = json.loads((path / "model.json").read_text(encoding="utf-8"))
            found.append(ModelInfo(version=path.name, trained_at=str(info["trained_at"]),
                                   rows=int(info["rows"]), labels=tuple(info["labels"]),
                                   active=path.name == current))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("model %s not listed: %s", path.name, exc)
    return sorted(found, key=lambda m: (m.trained_at, m.version))


def load_version(data_dir: str | os.PathLike[str], version: str) -> DisciplineModel:
    """A saved model by its version; ModelError if there is none or it does not load."""
    root = models_dir(data_dir)
    if not VERSION_NAME.fullmatch(version) or not (root / version).is_dir():
        raise ModelError(f"没有模型版本 {version}（intake models list 列出已训练的版本）。")
    return DisciplineModel.load(root / version)


def activate(data_dir: str | os.PathLike[str], version: str) -> None:
    """Make `version` the active model; it must load. ACTIVE is replaced atomically."""
    root = models_dir(data_dir)
    load_version(data_dir, version)  # refuse a missing or broken one
    fd, tmp = tempfile.mkstemp(prefix=".ACTIVE.", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(version + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, root / ACTIVE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ActiveModel:
    """The data folder's active model, loaded again when ACTIVE changes (checked at most
    every `check_every` seconds), so a running service takes up `intake train` by itself;
    the package's default layer while there is none.

    Loaded at once on creation; while a new one loads, callers wait for it rather than
    classify with the old one under the new version's name.
    """

    def __init__(self, data_dir: str | os.PathLike[str], check_every: float = 30.0,
                 fallback: bool = True) -> None:
        """`fallback`: with no active model (or one that fails to load), the default layer
        shipped with the package (intake.classify.default); False: the lexicon alone."""
        self._data_dir = Path(data_dir)
        self._fallback = fallback
        self._check_every = check_every
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._stamp: tuple[int, int] | None = None
        self._model: DisciplineModel | None = default_model() if fallback else None
        self.get()

    def get(self) -> DisciplineModel | None:
        if time.monotonic() - self._checked < self._check_every:
            return self._model
        with self._lock:
            if time.monotonic() - self._checked >= self._check_every:
                stamp = self._active_stamp()
                if stamp != self._stamp:
                    model = active_model(self._data_dir) if stamp else None
                    self._model = model or (default_model() if self._fallback else None)
                    self._stamp = stamp
                self._checked = time.monotonic()
            return self._model

    def _active_stamp(self) -> tuple[int, int] | None:
        try:
            st = (models_dir(self._data_dir) / ACTIVE).stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino)
