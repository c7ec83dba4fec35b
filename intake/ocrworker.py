"""Background OCR of scanned pages: claimed one at a time under a lease, never lost.

An upload only records its pages as "pending" and returns. Worker threads (`OcrWorker`, as
many as `ocr_workers`) claim one due page at a time, read it with the offline engine and store
the text. A claim is a lease: a token and a time; a worker that died mid-page leaves a claim
that goes stale after LEASE and the page is taken up again. A page that fails is tried again,
RETRY_AFTER later, up to `ocr_max_attempts` times (a file that cannot be opened is not: its
bytes will not change), then stays "failed", with its error and images, until 重试 is pressed.

The claim is an UPDATE … WHERE on the row still being due, after a SELECT … FOR UPDATE SKIP
LOCKED (PostgreSQL) inside a write transaction (SQLite takes its lock at BEGIN), as the
outbox does; results are written only while the worker's token is still on the row.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageOps
from sqlalchemy import ColumnElement, case, select, update

from intake import decodelimits, letters, ocr
from intake.atrest import memory_copy
from intake.attachments import safe_filename
from intake.desk import Desk
from intake.masking import mask_text
from intake.protect import DecryptionError
from intake.store import models as m
from intake.store.db import begin_write

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # far longer than one page takes, even a huge scan
RETRY_AFTER = timedelta(minutes=1)  # a page that failed waits this long before its next try
POLL_SECONDS = 3.0
INTERRUPTED = "识别多次中断（进程退出或超时），请点“重试”，或对照原件手工录入。"


class Engine(Protocol):
    def read_image(self, image: Image.Image) -> ocr.PageText: ...


@dataclass(frozen=True)
class Claim:
    page_id: int
    token: str
    batch_id: int
    page_no: int
    storage_name: str
    file_name: str


@dataclass
class _Copy:
    ready: threading.Event = field(default_factory=threading.Event)
    path: Path | None = None  # set once decrypted
    users: int = 0
    used_at: float = 0.0


class PlainCopies:
    """Decrypted copies of stored files, a few kept for reuse, in memory (tmpfs; else in the
    private tmp folder).

    A 300-page PDF is read page by page, for OCR and for page images; decrypting it again for
    every page would cost more than the OCR itself. Copies are removed when pushed out by newer
    ones, after `idle` seconds unused (a sweeper thread runs while any copy exists), on
    `close`, and at the latest when the object goes away or the process exits.
    """

    def __init__(self, desk: Desk, *, keep: int = 2, idle: float = 120.0) -> None:
        self.desk = desk
        self.keep = keep
        self.idle = idle
        self._lock = threading.Lock()
        self._copies: OrderedDict[str, _Copy] = OrderedDict()
        self._folders: set[Path] = set()
        self._sweeper: threading.Thread | None = None
        weakref.finalize(self, _remove_folders, self._folders)

    @contextmanager
    def path(self, storage_name: str, name: str) -> Iterator[Path]:
        """The plaintext of a stored file as a path, valid inside the `with` block.

        The file carries the original name, which the OCR module's messages show.
        """
        with self._lock:
            copy = self._copies.get(storage_name)
            owner = copy is None
            if copy is None:
                copy = self._copies[storage_name] = _Copy()
            copy.users += 1
            self._copies.move_to_end(storage_name)
        try:
            if owner:
                try:
                    copy.path = self._decrypt(storage_name, name)
                finally:
                    copy.ready.set()
            copy.ready.wait()
            if copy.path is None:  # the owner could not decrypt it: try (and fail) alone
                with letters.decrypted_copy(self.desk, storage_name, name) as path:
                    yield path
                return
            yield copy.path
        finally:
            with self._lock:
                copy.users -= 1
                copy.used_at = time.monotonic()
                if copy.path is None and self._copies.get(storage_name) is copy:
                    del self._copies[storage_name]
            self.sweep()
            self._keep_sweeping()

    def _keep_sweeping(self) -> None:
        """Make sure idle copies go even when nothing asks for another file."""
        with self._lock:
            if not self._copies or (self._sweeper is not None and self._sweeper.is_alive()):
                return
            self._sweeper = threading.Thread(target=self._sweep_until_empty,
                                             name="plain-copies-sweeper", daemon=True)
            self._sweeper.start()

    def _sweep_until_empty(self) -> None:
        while True:
            time.sleep(max(1.0, self.idle / 4))
            self.sweep()
            with self._lock:
                if not self._copies:
                    self._sweeper = None
                    return

    def _decrypt(self, storage_name: str, name: str) -> Path:
        root = self.desk.settings.data_dir / "tmp"
        memory = memory_copy(lambda: self.desk.files.read(storage_name), safe_filename(name),
                             self.desk.settings.data_dir)
        if memory is not None:  # the plaintext stays in memory (tmpfs), never on the disk
            self._folders.add(memory.folder)
            return memory.path
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=root))
        self._folders.add(folder)
        path = folder / safe_filename(name)
        try:
            with path.open("wb") as out:
                for chunk in self.desk.files.read(storage_name):
                    out.write(chunk)
        except BaseException:
            _remove_folders({folder})
            self._folders.discard(folder)
            raise
        return path

    def sweep(self) -> None:
        """Remove copies beyond `keep` (oldest first) and copies idle too long."""
        now = time.monotonic()
        with self._lock:
            unused = [k for k, c in self._copies.items() if c.users == 0]
            surplus = max(0, len(self._copies) - self.keep)
            drop = unused[:surplus]
            drop += [k for k in unused[surplus:] if now - self._copies[k].used_at > self.idle]
            gone = {c.path.parent for k in drop if (c := self._copies.pop(k)).path is not None}
            self._folders.difference_update(gone)
        _remove_folders(gone)

    def close(self) -> None:
        self.idle = -1.0
        self.sweep()


def _remove_folders(folders: set[Path]) -> None:
    for folder in list(folders):
        shutil.rmtree(folder, ignore_errors=True)


# --- claiming and recording -----------------------------------------------------------------


def _due(now: datetime) -> ColumnElement[bool]:
    """Pending and not just failed (a failed try keeps its claim time), or under a stale lease."""
    p = m.ScanPage
    return (((p.ocr_status == "pending")
             & (p.ocr_claimed_at.is_(None) | (p.ocr_claimed_at < now - RETRY_AFTER)))
            | ((p.ocr_status == "running") & (p.ocr_claimed_at < now - LEASE)))


def claim_page(desk: Desk, now: datetime | None = None) -> Claim | None:
    """Lease the oldest due page (pending, or running under a stale claim), or None."""
    now = now or m.utcnow()
    stale = now - LEASE
    token = uuid.uuid4().hex
    p = m.ScanPage
    with desk.sessions() as session:
        begin_write(session)
        # A page whose worker vanished on its last allowed attempt now waits for a person.
        session.execute(
            update(p).where(p.ocr_status == "running", p.ocr_claimed_at < stale,
                            p.ocr_attempts >= desk.settings.ocr_max_attempts)
            .values(ocr_status="failed", ocr_claim=None, ocr_error=INTERRUPTED))
        page_id = session.scalar(select(p.id).where(_due(now)).order_by(p.id).limit(1)
                                 .with_for_update(skip_locked=True))
        if page_id is None:
            session.commit()
            return None
        taken = session.execute(
            update(p).where(p.id == page_id, _due(now))
            .values(ocr_status="running", ocr_claim=token, ocr_claimed_at=now,
                    ocr_attempts=p.ocr_attempts + 1))
        if taken.rowcount != 1:  # another worker was quicker
            session.rollback()
            return None
        row = session.execute(
            select(p.batch_id, p.page_no, m.ScanFile.storage_name, m.ScanFile.original_name)
            .join(m.ScanFile, m.ScanFile.id == p.file_id).where(p.id == page_id)).one()
        session.commit()
    return Claim(page_id, token, row.batch_id, row.page_no, row.storage_name, row.original_name)


def _record(desk: Desk, claim: Claim, result: ocr.PageText | None, error: str,
            final: bool) -> bool:
    """Store a page's outcome if the claim is still ours; False when the lease was lost."""
    p = m.ScanPage
    if result is not None:
        values: dict[str, object] = {
            # By pattern only: who signed is known once the officer says so, on submission.
            "ocr_status": "done", "ocr_text": mask_text(result.text),
            "ocr_confidence": result.confidence,
            "ocr_seconds": result.seconds, "ocr_rotation": result.rotation, "ocr_error": ""}
    else:
        values = {"ocr_error": error, "ocr_status": "failed" if final else case(
            (p.ocr_attempts >= desk.settings.ocr_max_attempts, "failed"), else_="pending")}
    with desk.sessions() as session:
        begin_write(session)
        done = session.execute(update(p).where(p.id == claim.page_id, p.ocr_claim == claim.token)
                               .values(ocr_claim=None, **values))
        session.commit()
    return done.rowcount == 1


def read_page(desk: Desk, engine: Engine, copies: PlainCopies, claim: Claim) -> None:
    """OCR one claimed page and record the text or the error."""
    result, error, final = None, "", False
    try:
        with copies.path(claim.storage_name, claim.file_name) as path:
            image = ocr.open_page_image(path, claim.page_no)
        result = engine.read_image(image)
    except ocr.OcrInputError as exc:
        error, final = str(exc), True  # the same bytes will not open next time either
    except DecryptionError:
        error, final = "原件解密失败（文件损坏或密钥不符），请联系系统管理员。", True
    except FileNotFoundError:
        error = "找不到原件文件，请联系系统管理员。"
    except Exception as exc:  # the engine, memory, anything: the page waits, never vanishes
        log.exception("OCR failed on page %s", claim.page_id)
        error = f"文字识别出错（{type(exc).__name__}），可重试。"
    if not _record(desk, claim, result, error, final):
        log.warning("page %s: lease lost, result dropped", claim.page_id)
        return
    letters.apply_suggestion_when_read(desk, claim.batch_id)


def run_pending(desk: Desk, limit: int | None = None, *, engine: Engine | None = None) -> int:
    """Read due pages now, in this thread, until none is left (or `limit`); return how many."""
    engine = engine or ocr.get_engine()
    copies = PlainCopies(desk)
    count = 0
    try:
        while limit is None or count < limit:
            claim = claim_page(desk)
            if claim is None:
                break
            read_page(desk, engine, copies, claim)
            count += 1
    finally:
        copies.close()
    return count


class OcrWorker:
    """`ocr_workers` daemon threads reading due pages; `wake.set()` after an upload.

        worker = OcrWorker(desk)
        worker.start()        # no threads when settings.ocr_workers is 0
        ...
        worker.stop()         # finishes the page in hand (waits up to `join_seconds`)
    """

    def __init__(self, desk: Desk, *, engine: Engine | None = None,
                 poll_seconds: float = POLL_SECONDS, join_seconds: float = 30.0) -> None:
        self.desk = desk
        self.wake = threading.Event()
        self.poll_seconds = poll_seconds
        self.join_seconds = join_seconds
        self._engine = engine
        self.copies = PlainCopies(desk)  # shared with the page-image views
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for n in range(self.desk.settings.ocr_workers):
            thread = threading.Thread(target=self._run, name=f"ocr-{n + 1}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        deadline = time.monotonic() + self.join_seconds
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
        self.copies.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.wake.clear()
            try:
                engine = self._engine or ocr.get_engine()
                while not self._stop.is_set() and (claim := claim_page(self.desk)) is not None:
                    read_page(self.desk, engine, self.copies, claim)
            except Exception:
                log.exception("OCR round failed")
            self.copies.sweep()
            self.wake.wait(self.poll_seconds)


# --- page images for people -----------------------------------------------------------------


def page_jpeg(copies: PlainCopies, file: m.ScanFile, page_no: int, rotation: int,
              width: int) -> bytes:
    """A page as a JPEG at most `width` px wide, turned upright as the OCR found it.

    Raises ocr.OcrInputError when the file cannot be shown as an image.
    """
    with copies.path(file.storage_name, file.original_name) as path:
        if ocr.is_pdf(path):
            # A4 is 8.27 in wide: render at about the resolution needed, not the OCR's.
            image = ocr.render_pdf_page(path, page_no, dpi=max(36, int(width / 8.27) + 8))
        else:
            image = _open_preview(path, page_no, width)
    if rotation:
        image = image.rotate(-rotation, expand=True)  # PIL turns anticlockwise
    image.thumbnail((width, width * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _open_preview(path: Path, page_no: int, width: int) -> Image.Image:
    try:
        with decodelimits.open_image(path, path.name) as image:
            ocr.seek_page(image, page_no, path.name)
            if image.format == "JPEG":
                image.draft("RGB", (width, width))  # decode a phone photo at 1/8 if enough
            decodelimits.check_pixels(image, path.name)  # this frame, at this scale
            return ImageOps.exif_transpose(image).convert("RGB")
    except decodelimits.DecodeLimitError as exc:
        raise ocr.OcrInputError(str(exc)) from exc
    except (OSError, SyntaxError, ValueError, Warning) as exc:
        raise ocr.OcrInputError(f"图片无法显示：{path.name}") from exc
