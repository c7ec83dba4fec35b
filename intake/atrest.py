"""Files at rest: a private data folder whatever the umask, plaintext kept off the disk, and
what a crash left behind swept at start-up.

`make_private` gives the process the umask 077 (every file the service writes from then on,
the database and its -wal/-shm, keys, attachments, spools, models, exports, is 0600 and every
folder 0700, even when the operator's umask is 000) and closes up what an earlier, laxer
start left readable. `memory_copy` holds a decrypted file in memory (tmpfs, /dev/shm) under
its original name, for the libraries that open files by path (PDFium, Pillow).
`sweep_at_start` removes attachment blobs no row refers to and stale spools and copies, and
logs how many, never which.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.store import models as m

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
STALE_SECONDS = 600.0  # a spool or blob older than this with no owner is a crash's leftover
TOP_LEVEL = ("intake.db", "intake.db-wal", "intake.db-shm", "keys", "attachments", "tmp",
             "models")


def make_private(data_dir: Path) -> None:
    """Umask 077 for this process; the data folder and its top-level files and folders (and
    the keys) closed to group and others."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _close_up(data_dir)
    for name in TOP_LEVEL:
        _close_up(data_dir / name)
    keys = data_dir / "keys"
    if keys.is_dir():
        for path in keys.iterdir():
            _close_up(path)


def _close_up(path: Path) -> bool:
    """Remove group and other permissions from a file or folder; True if any were set."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(mode) or not mode & 0o077:
        return False
    path.chmod(stat.S_IMODE(mode) & 0o700)
    return True


SHM = Path("/dev/shm")  # noqa: S108  tmpfs, in memory; folders made by mkdtemp (0700)


@dataclass(frozen=True)
class MemoryCopy:
    """A decrypted file in memory (tmpfs), at `path`; `close()` removes it."""

    path: Path
    folder: Path

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def memory_prefix(data_dir: Path) -> str:
    """The name prefix of this data folder's copies on tmpfs (so a sweep finds its own)."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return f"intake-{digest}-"


def memory_copy(read: Callable[[], Iterable[bytes]], name: str, data_dir: Path
                ) -> MemoryCopy | None:
    """The plaintext `read()` yields, as a file named `name` in a private folder (0700) on
    tmpfs. None when there is no tmpfs, or it is full (a small /dev/shm in a container): the
    caller then makes its copy in the data folder's tmp and removes it as soon as it can.
    """
    if not SHM.is_dir() or not os.access(SHM, os.W_OK):
        return None
    folder = Path(tempfile.mkdtemp(dir=SHM, prefix=memory_prefix(data_dir)))
    path = folder / name
    try:
        with path.open("wb") as out:
            for chunk in read():
                out.write(chunk)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        log.warning("no room for a decrypted copy in %s; using the data folder", SHM)
        return None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return MemoryCopy(path, folder)


@dataclass(frozen=True)
class Swept:
    orphans: int  # attachment blobs without a row
    stale: int  # spools, half-written blobs and plaintext copies left by a crash
    closed_up: int  # files or folders that others could read


def sweep_at_start(data_dir: Path, session: Session, *, now: float | None = None,
                   stale_seconds: float = STALE_SECONDS) -> Swept:
    """Remove what no one owns any more: attachment blobs no row names, and entries of the
    temporary folders untouched for `stale_seconds` (a concurrent process's work in progress
    is younger). Every file and folder walked is made private too."""
    now = time.time() if now is None else now
    cutoff = now - stale_seconds
    stale = closed = 0
    if SHM.is_dir():  # copies in memory that a crashed process left
        for entry in SHM.glob(memory_prefix(data_dir) + "*"):
            if entry.lstat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                stale += 1
    for tmp in (data_dir / "tmp", data_dir / "attachments" / "tmp"):
        if not tmp.is_dir():
            continue
        for entry in tmp.iterdir():
            if entry.lstat().st_mtime < cutoff:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                stale += 1
    orphans = 0
    root = data_dir / "attachments"
    if root.is_dir():
        referenced = _referenced(session)
        for folder, dirs, files in os.walk(root):
            here = Path(folder)
            if here == root:
                dirs[:] = [d for d in dirs if d != "tmp"]
            closed += _close_up(here)
            for name in files:
                path = here / name
                if name not in referenced and path.lstat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    orphans += 1
                else:
                    closed += _close_up(path)
    swept = Swept(orphans, stale, closed)
    log.info("start-up sweep: %d orphaned attachment files, %d stale temporary entries "
             "removed; %d made private", swept.orphans, swept.stale, swept.closed_up)
    return swept


def _referenced(session: Session) -> set[str]:
    """Every storage name a row refers to."""
    names: set[str] = set()
    for column in (m.Attachment.storage_name, m.ScanFile.storage_name,
                   m.InboundMail.raw_storage_name):
        names.update(n for n in session.scalars(select(column).distinct()) if n)
    return names
