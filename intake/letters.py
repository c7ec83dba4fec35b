"""Scanned letters and suggestion-box notes: batches, pages, letters, and their way into intake.

An officer uploads one batch per box opening or per day's post. Every file is kept encrypted in
the attachment store exactly as received, even one that cannot be read (it is shown with its
error, and can still be typed in by hand). Files become pages (an image is one page, a PDF as
many as it has); pages are grouped into letters, one letter per file at first, and once the
background OCR has read a batch the grouping is suggested from the text (`suggest_grouping`).
The officer splits, merges and reorders, corrects the text beside the image, and submits each
letter through `ingest()` like any other item: channel "box" or "letter", received when the box
was opened, with the letter's original files attached. Each suggestion box and postal box
belongs to a round (`boxes`); the box a batch came from files its letters under that round.
"""

from __future__ import annotations

import logging
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from intake import decodelimits, ocr
from intake.atrest import memory_copy
from intake.attachments import (
    SNIFF_BYTES,
    StoredFile,
    _Capped,
    _Prefixed,
    allowed_type,
    human_size,
    safe_filename,
)
from intake.audit import db_record
from intake.desk import Desk
from intake.masking import extension_of, mask_text, shown_name
from intake.maskstore import db_add_attachments, open_name, seal_name
from intake.pipeline import DOCUMENT_MAX_CHARS, files_in_use, ingest, round_for
from intake.protect import Identity
from intake.store import models as m
from intake.store.db import begin_write
from intake.submission import (
    AttachmentTooLargeError,
    IntakeError,
    InvalidSubmissionError,
    Receipt,
    Submission,
    clean_text,
)
from intake.workdays import round_flags

log = logging.getLogger(__name__)

SOURCE_CHANNELS = {"box": "box", "postal": "letter"}
FUTURE_SLACK = timedelta(minutes=5)
NOTE_MAX = 2000
PAGE_BREAK = "\n\n"  # between the OCR texts of a letter's pages
NOT_A_SCAN = "不是图片或 PDF 文件，无法自动识别文字；请下载原件查看，在校对页手工录入。"
PAGE_CHUNK = 100  # page rows written per transaction, so no upload holds the write lock long


class LetterError(IntakeError):
    """A batch or letter operation cannot be done; `message` is Chinese, for the officer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IncompleteFileError(LetterError):
    """The upload broke off in the middle of a file (raised by the stream being read)."""

    def __init__(self) -> None:
        super().__init__("上传中断，文件未完整收到。")


# --- the grouping heuristic (pure) ----------------------------------------------------------

_TITLE = re.compile(
    r"^(关于.{2,40}(反映|举报|检举|控告|情况|问题|意见|建议|报告|申诉)|"
    r"(实名|匿名)?(举报|反映|检举|控告|申诉)(信|材料)?$|情况反映$|来信$)")
_SALUTATION = re.compile(
    r"^(尊敬的|敬爱的)|"
    r"^[^，。；,;！!？?]{0,24}(巡察组|巡视组|巡察办|巡察组长|领导|同志|组长|书记)[^，。；,;]{0,8}[：:]"
    r"|^(您好|你们好|你好)[！!，,]?$")
_SIGN_OFF = re.compile(
    r"^(此致|敬礼[！!]?$|致以.{0,6}敬礼)|"
    r"^(举报人|反映人|检举人|控告人|申诉人|写信人|来信人|署名|落款)[：:]|"
    r"^(一名|一位|一群|部分|全体).{0,12}(党员|群众|村民|居民|职工|干部|教师|农民工)$")
_NUMBER = r"(\d{1,4}|[〇○零一二三四五六七八九十]{1,4})"
_DATE_LINE = re.compile(
    rf"^{_NUMBER}\s*年\s*{_NUMBER}\s*月(\s*{_NUMBER}\s*[日号])?$|^\d{{4}}[./-]\d{{1,2}}[./-]\d{{1,2}}$")
OPENING_LINES = 3  # a title, then the salutation
CLOSING_LINES = 4  # 此致 / 敬礼 / the signer / the date


@dataclass(frozen=True)
class PageClue:
    """What the grouping knows of a page: its file, whether that file is a one-page image, and
    its OCR text (None when the page could not be read)."""

    file: int
    image: bool
    text: str | None


def _lines(text: str) -> list[str]:
    return [line.strip().replace(" ", "") for line in text.splitlines() if line.strip()]


def opens_letter(text: str) -> bool:
    """Whether a page begins a letter: a salutation (尊敬的…, …巡察组：, …领导：) or a
    letter's title (关于…的情况反映, 举报信) in its first lines."""
    first = _lines(text)[:OPENING_LINES]
    return any(_SALUTATION.search(line) for line in first) or bool(
        first and _TITLE.search(first[0]))


def closes_letter(text: str) -> bool:
    """Whether a page ends a letter: 此致/敬礼, 举报人：…, a date line such as 2026年3月5日."""
    return any(_SIGN_OFF.search(line) or _DATE_LINE.match(line)
               for line in _lines(text)[-CLOSING_LINES:])


def suggest_grouping(pages: Sequence[PageClue], *, source: str) -> list[bool]:
    """Where letters start, in page order: True for each page that begins a new letter.

    A page with text starts a letter when it opens one, or when the last page with text before
    it closed one. Without such clues the files decide: each file of a box opening is its own
    note; in the post, consecutive one-page images (a letter photographed page by page) run on
    while a PDF always starts anew. A blank page (the back of a sheet) stays where it is; an
    unreadable page starts a letter only where its file does.
    """
    starts: list[bool] = []
    closed = False  # the last page with text ended with a sign-off
    for i, page in enumerate(pages):
        new_file = i > 0 and page.file != pages[i - 1].file
        file_starts = new_file and (
            source == "box" or not (page.image and pages[i - 1].image))
        if i == 0:
            start = True
        elif page.text is None:
            start = new_file or closed
        elif not page.text.strip():
            start = new_file and source == "box"
        else:
            start = opens_letter(page.text) or closed or file_starts
        starts.append(start)
        if page.text is None:
            closed = False
        elif page.text.strip():
            closed = closes_letter(page.text)
    return starts


# --- batches and files ----------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A suggestion box or postal box a batch can come from, and the round it belongs to: the
    box chosen for a batch decides the round its letters are filed under."""

    round_id: int
    round_slug: str
    round_name: str
    source: str  # "box" (a suggestion box) or "postal"
    name: str

    @property
    def key(self) -> str:
        """The form's value for this box (slugs hold no `|`)."""
        return f"{self.round_slug}|{self.source}|{self.name}"


def boxes(desk: Desk, team_ids: Iterable[int] | None = None) -> list[Box]:
    """Every suggestion box and postal box of the rounds taking items, of these teams when
    given (an officer's choices), open rounds first."""
    out = []
    for entry in desk.rounds.taking(team_ids):
        out += [Box(entry.id, entry.slug, entry.cfg.name, "box", name)
                for name in entry.cfg.suggestion_boxes]
        out.append(Box(entry.id, entry.slug, entry.cfg.name, "postal",
                       entry.cfg.postal_box or "邮政信箱"))
    return out


def pick_box(choices: Sequence[Box], *, box: str, source: str = "",
             round_slug: str | None = None) -> Box:
    """The box a batch comes from, among `choices`: named by its key (`Box.key`), or by
    source, name (for a suggestion box) and round (needed only when several rounds have such
    a box). LetterError with a Chinese message for a box that is not among the choices."""
    box = box.strip()
    if not source and box.count("|") >= 2:
        round_slug, source, box = box.split("|", 2)
    if not choices:
        raise LetterError("您所在的巡察组目前没有受理中的巡察轮次，不能上传扫描件。")
    if source not in SOURCE_CHANNELS:
        raise LetterError("请选择来源：意见箱或邮政信箱。")
    found = [c for c in choices if c.source == source
             and ((source == "postal" and not box) or c.name == box)]
    if round_slug:
        found = [c for c in found if c.round_slug == round_slug.strip().lower()]
        if not found:
            raise LetterError("所选的意见箱或信箱不属于您所在巡察组受理中的轮次，请重新选择。")
    if not found:
        raise LetterError("请选择开启的是哪个意见箱。" if source == "box"
                          else "请选择是哪个邮政信箱的来信。")
    if len(found) > 1:
        raise LetterError("几个轮次都有这个意见箱或信箱，请选择所属轮次。")
    return found[0]


def create_batch(
    desk: Desk, *, source: str = "", box: str, opened_at: datetime, note: str,
    staff_id: int | None, round_slug: str | None = None, team_ids: Iterable[int] | None = None,
) -> int:
    """Open a batch for one box opening ("box", naming the box) or one day's post ("postal"),
    filed under the round of that box (`pick_box` among the boxes of `team_ids`' rounds).

    The batch stays incomplete until `finish_batch`, so a batch whose upload broke off says
    so. Raises LetterError with a Chinese message for a bad field.
    """
    chosen = pick_box(boxes(desk, team_ids), box=box, source=source, round_slug=round_slug)
    if opened_at.tzinfo is None:
        raise LetterError("开箱时间缺少时区。")
    if opened_at > m.utcnow() + FUTURE_SLACK:
        raise LetterError("开箱（取信）时间不能晚于现在。")
    note = clean_text(note)
    if len(note) > NOTE_MAX:
        raise LetterError(f"备注最多 {NOTE_MAX} 字。")
    with desk.sessions() as session:
        begin_write(session)
        batch = m.ScanBatch(round_id=chosen.round_id, source=chosen.source,
                            source_name=chosen.name[:200], opened_at=opened_at, note=note,
                            uploaded_by=staff_id)
        session.add(batch)
        session.commit()
        log.info("scan batch %s opened (%s, round %s)", batch.id, chosen.source,
                 chosen.round_slug)
        return batch.id


def finish_batch(desk: Desk, batch_id: int) -> None:
    """Mark the upload complete; suggest the grouping now if nothing is left to read."""
    with desk.sessions() as session:
        begin_write(session)
        batch = session.get(m.ScanBatch, batch_id)
        if batch is None:
            raise LetterError("没有这个批次。")
        batch.complete = True
        session.commit()
    apply_suggestion_when_read(desk, batch_id)


@dataclass(frozen=True)
class AddedFile:
    file_id: int
    pages: int
    error: str


def add_file(desk: Desk, batch_id: int, filename: str, stream: BinaryIO) -> AddedFile:
    """Store one uploaded file of a batch and give it its pages and its own letter.

    `stream` is read once, chunk by chunk. Nothing received is dropped: a file that is not an
    image or a PDF, or that cannot be opened, is kept with `error` set and one page marked
    failed, so the officer sees it and can type it in. A file over the size limit cannot be
    kept and is listed with the reason. IncompleteFileError from the stream is recorded the
    same way and raised again: the upload is over.
    """
    name = safe_filename(filename)
    limit = desk.settings.scan_max_file_bytes
    try:
        head = _read_head(stream)
        mime = allowed_type(head) if head else None
        source = _Capped(_Prefixed(head, stream), limit, name)
        # The store's own writer: encrypted, renamed into place; its type check is ours here.
        stored = desk.files._write(source, name, mime or "application/octet-stream")
    except AttachmentTooLargeError:
        return _record_unkept(desk, batch_id, name, f"文件超过 {human_size(limit)} 的上限，"
                              "未能保存。请拆分成较小的文件后重新上传。")
    except IncompleteFileError:
        _record_unkept(desk, batch_id, name, "上传中断，此文件未完整收到，请重新上传。")
        raise
    error, page_count = _inspect(desk, stored, mime, head)
    try:
        return _record_file(desk, batch_id, stored, error, page_count)
    except BaseException:
        desk.files.discard([stored], _stored_elsewhere(desk))  # no file without its row
        raise


def _read_head(stream: BinaryIO) -> bytes:
    head = b""
    while len(head) < SNIFF_BYTES:
        chunk = stream.read(SNIFF_BYTES - len(head))
        if not chunk:
            break
        head += chunk
    return head


def _inspect(desk: Desk, stored: StoredFile, mime: str | None, head: bytes) -> tuple[str, int]:
    """(error, pages) of a stored file: a PDF's pages are counted from a decrypted copy, in
    its real page tree; a file with more pages than allowed gets no pages, only its error.
    An image whose header declares too many pixels is refused here, before any decoding."""
    limit = desk.settings.scan_max_file_pages
    if stored.size == 0:
        return "空文件（0 字节），没有内容。", 0
    # The copy is named by type, never by the uploaded name: OCR errors quote it, and the
    # uploaded name may be identity.
    copy_name = "原件." + extension_of(stored.content_type)
    if mime == "application/pdf":
        try:
            with decrypted_copy(desk, stored.storage_name, copy_name) as path:
                declared = ocr.pdf_page_count(path)  # PDFium believes the declared /Count
                count = decodelimits.pdf_page_count(path, stop_after=limit)
        except ocr.OcrInputError as exc:
            return str(exc), 1
        except Exception:  # whatever PDFium makes of it, the file is kept
            log.exception("cannot count the pages of scan %s", stored.sha256[:12])
            return "无法读取 PDF 的页数；原件已保存，可下载查看后手工录入。", 1
        if count is None:  # pypdf cannot read it: PDFium's count, within the limit
            count = declared
        if count > limit:
            return _too_many_pages("PDF 文件", limit), 0
        if declared > limit:  # a page tree that lies about itself: not split either
            return _too_many_pages(f"PDF 文件声明有 {declared} 页（实际只有 {count} 页），",
                                   limit), 0
        return ("", count) if count else ("PDF 文件没有页面。", 1)
    if mime is not None and mime.startswith("image/") and (
            error := decodelimits.header_error(head, copy_name)):
        return error, 1
    if mime == "image/tiff":  # a fax or a document feeder's multi-page TIFF
        with decrypted_copy(desk, stored.storage_name, copy_name) as path:
            count = decodelimits.image_frames(path, stop_after=limit)
        return (_too_many_pages("TIFF 图片", limit), 0) if count > limit else ("", count)
    if mime is not None and mime.startswith("image/"):
        return "", 1
    return NOT_A_SCAN, 1


def _too_many_pages(kind: str, limit: int) -> str:
    return (f"{kind}超过每个文件 {limit} 页的上限，未拆分成页面；原件已保存，可下载查看。"
            "请拆分成较小的文件后重新上传，或对照原件手工录入。")


def _record_file(
    desk: Desk, batch_id: int, stored: StoredFile, error: str, page_count: int
) -> AddedFile:
    """The file's row, its letter and its pages; pages beyond the first PAGE_CHUNK are
    written in further short transactions, so that other writers (a public report) wait
    for no more than one chunk."""
    with desk.sessions() as session:
        begin_write(session)
        batch_pages = session.scalar(
            select(func.count()).where(m.ScanPage.batch_id == batch_id)) or 0
        limit = desk.settings.scan_max_batch_pages
        if page_count and batch_pages + page_count > limit:
            error, page_count = (
                f"本批次已有 {batch_pages} 页，加上此文件的 {page_count} 页将超过每批 {limit} 页"
                "的上限，此文件未拆分成页面；原件已保存。请在新批次中重新上传此文件。"), 0
        seq = _next(session, m.ScanFile.seq, m.ScanFile.batch_id == batch_id)
        row = m.ScanFile(batch_id=batch_id, seq=seq,
                         original_name=shown_name(seq, stored.content_type),
                         name_sealed=seal_name(desk.keyring, stored.original_name),
                         content_type=stored.content_type, size=stored.size,
                         sha256=stored.sha256, storage_name=stored.storage_name, error=error)
        session.add(row)
        session.flush()
        letter_id = None
        if page_count:
            letter = m.ScanLetter(
                batch_id=batch_id,
                seq=_next(session, m.ScanLetter.seq, m.ScanLetter.batch_id == batch_id))
            session.add(letter)
            session.flush()
            letter_id = letter.id
            _add_pages(desk, session, row, letter_id, range(1, min(page_count, PAGE_CHUNK) + 1))
        session.commit()
        file_id = row.id
    for start in range(PAGE_CHUNK + 1, page_count + 1, PAGE_CHUNK):
        with desk.sessions() as session:
            begin_write(session)
            _add_pages(desk, session, row, letter_id,
                       range(start, min(page_count, start + PAGE_CHUNK - 1) + 1))
            session.commit()
    return AddedFile(file_id, page_count, error)


def _add_pages(desk: Desk, session: Session, file: m.ScanFile, letter_id: int | None,
               numbers: range) -> None:
    failed = bool(file.error)  # unreadable as a whole: waits for a person (or 重试)
    session.add_all(
        m.ScanPage(batch_id=file.batch_id, file_id=file.id, page_no=n, letter_id=letter_id,
                   position=n, ocr_status="failed" if failed else "pending",
                   ocr_error=file.error,
                   ocr_attempts=desk.settings.ocr_max_attempts if failed else 0)
        for n in numbers)


def _record_unkept(desk: Desk, batch_id: int, name: str, error: str) -> AddedFile:
    """List a file that could not be kept, so the officer knows to send it again."""
    with desk.sessions() as session:
        begin_write(session)
        seq = _next(session, m.ScanFile.seq, m.ScanFile.batch_id == batch_id)
        row = m.ScanFile(batch_id=batch_id, seq=seq, original_name=shown_name(seq, ""),
                         name_sealed=seal_name(desk.keyring, name), content_type="", size=0,
                         sha256="", storage_name="", error=error)
        session.add(row)
        session.commit()
        return AddedFile(row.id, 0, error)


def _next(session: Session, column: InstrumentedAttribute[int], where: ColumnElement[bool]) -> int:
    return (session.scalar(select(func.max(column)).where(where)) or 0) + 1


def _stored_elsewhere(desk: Desk) -> Callable[[str], bool]:
    """Whether another row refers to a file with this content (the store shares content)."""
    return files_in_use(desk)


@contextmanager
def decrypted_copy(desk: Desk, storage_name: str, name: str) -> Iterator[Path]:
    """A stored file decrypted into memory (tmpfs, see intake.atrest) under its original
    name, which the OCR module's messages name; removed afterwards. Without tmpfs, a copy in
    the private temporary folder, removed afterwards."""
    root = desk.settings.data_dir / "tmp"
    copy = memory_copy(lambda: desk.files.read(storage_name), safe_filename(name) or "原件",
                       desk.settings.data_dir)
    if copy is not None:
        try:
            yield copy.path
        finally:
            copy.close()
        return
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as folder:
        path = Path(folder) / (safe_filename(name) or "原件")
        with path.open("wb") as out:
            for chunk in desk.files.read(storage_name):
                out.write(chunk)
        yield path


# --- reading a batch ------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSummary:
    batch: m.ScanBatch
    pages: int
    done: int
    failed: int
    pending: int  # pending or running
    letters: int
    submitted: int
    file_errors: int

    @property
    def work_left(self) -> bool:
        return not self.batch.complete or self.pending > 0 or self.submitted < self.letters


def batch_summaries(desk: Desk) -> list[BatchSummary]:
    """Every batch, newest opening first, with its progress: in a staff request, those of the
    viewer's teams' rounds (intake.scope)."""
    with desk.sessions() as session:
        batches = list(session.scalars(
            select(m.ScanBatch)
            .order_by(m.ScanBatch.opened_at.desc(), m.ScanBatch.id.desc())))
        ids = [b.id for b in batches]
        pages: dict[int, dict[str, int]] = {i: {} for i in ids}
        for batch_id, status, count in session.execute(
                select(m.ScanPage.batch_id, m.ScanPage.ocr_status, func.count())
                .where(m.ScanPage.batch_id.in_(ids))
                .group_by(m.ScanPage.batch_id, m.ScanPage.ocr_status)):
            pages[batch_id][status] = count
        letters = {b: (total, done) for b, total, done in session.execute(
            select(m.ScanLetter.batch_id, func.count(), func.count(m.ScanLetter.submission_id))
            .where(m.ScanLetter.batch_id.in_(ids)).group_by(m.ScanLetter.batch_id))}
        errors = {b: n for b, n in session.execute(
            select(m.ScanFile.batch_id, func.count())
            .where(m.ScanFile.batch_id.in_(ids), m.ScanFile.error != "")
            .group_by(m.ScanFile.batch_id))}
    out = []
    for b in batches:
        p = pages[b.id]
        total, submitted = letters.get(b.id, (0, 0))
        out.append(BatchSummary(
            batch=b, pages=sum(p.values()), done=p.get("done", 0), failed=p.get("failed", 0),
            pending=p.get("pending", 0) + p.get("running", 0), letters=total,
            submitted=submitted, file_errors=errors.get(b.id, 0)))
    return out


def db_batch(session: Session, batch_id: int) -> m.ScanBatch | None:
    """A batch with its files and its letters' pages loaded, for its page."""
    return session.get(m.ScanBatch, batch_id, options=[
        selectinload(m.ScanBatch.files),
        selectinload(m.ScanBatch.letters).selectinload(m.ScanLetter.pages)
        .selectinload(m.ScanPage.file)])


def progress(desk: Desk, batch_id: int) -> dict[str, object]:
    """OCR progress of a batch: counts by status and each page's status."""
    with desk.sessions() as session:
        batch = session.get(m.ScanBatch, batch_id)
        if batch is None:
            raise LetterError("没有这个批次。")
        rows = session.execute(select(m.ScanPage.id, m.ScanPage.ocr_status)
                               .where(m.ScanPage.batch_id == batch_id)).all()
    counts = {status: 0 for status in m.OCR_STATUSES}
    for _, status in rows:
        counts[status] += 1
    return {"complete": batch.complete, **counts, "pages": {str(i): s for i, s in rows}}


def ocr_text(letter: m.ScanLetter) -> str:
    """The letter's OCR text: its pages' texts in order, a blank line between pages."""
    return PAGE_BREAK.join(p.ocr_text.strip() for p in letter.pages if p.ocr_text.strip())


def letter_text(letter: m.ScanLetter) -> str:
    """What the officer works on: the saved text, else the OCR text."""
    return letter.text if letter.text is not None else ocr_text(letter)


def confidence(letter: m.ScanLetter) -> float | None:
    """Mean OCR confidence of the letter's read pages, None when none was read."""
    scores = [p.ocr_confidence for p in letter.pages if p.ocr_confidence is not None]
    return sum(scores) / len(scores) if scores else None


# --- grouping: suggestion, split, merge, move -----------------------------------------------


class _Grouping:
    """A batch's letters and their pages in order, loaded for one write transaction."""

    def __init__(self, session: Session, batch_id: int) -> None:
        self.session = session
        self.batch_id = batch_id
        _lock_batch(session, batch_id)
        self.letters = list(session.scalars(
            select(m.ScanLetter).where(m.ScanLetter.batch_id == batch_id)
            .order_by(m.ScanLetter.seq, m.ScanLetter.id)
            .options(selectinload(m.ScanLetter.pages).selectinload(m.ScanPage.file))))
        self.pages = {letter.id: list(letter.pages) for letter in self.letters}

    def index(self, letter_id: int) -> int:
        for i, letter in enumerate(self.letters):
            if letter.id == letter_id:
                return i
        raise LetterError("没有这封信，可能刚被合并；请刷新页面。")

    def add_letter(self, at: int) -> m.ScanLetter:
        letter = m.ScanLetter(batch_id=self.batch_id, seq=0, pages=[])
        self.session.add(letter)
        self.session.flush()
        self.letters.insert(at, letter)
        self.pages[letter.id] = []
        return letter

    def save(self) -> None:
        """Write letter order and page positions back, densely; drop letters left empty."""
        # Through the collections: a page moved between letters is re-parented, never orphaned.
        with self.session.no_autoflush:  # half-moved pages must not be written
            for letter in self.letters:
                letter.pages = self.pages[letter.id]
                for position, page in enumerate(letter.pages, start=1):
                    page.position = position
        self.session.flush()
        for letter in [x for x in self.letters if not self.pages[x.id]]:
            self.letters.remove(letter)
            self.session.delete(letter)
        for seq, letter in enumerate(self.letters, start=1):
            letter.seq = seq
        self.session.flush()


def _lock_batch(session: Session, batch_id: int) -> None:
    """Serialise changes to one batch's letters (PostgreSQL; SQLite has one writer anyway)."""
    if session.scalar(select(m.ScanBatch.id).where(m.ScanBatch.id == batch_id)
                      .with_for_update()) is None:
        raise LetterError("没有这个批次。")


def _editable(letter: m.ScanLetter) -> None:
    if letter.submission_id is not None:
        raise LetterError(f"第 {letter.seq} 封已提交（#{letter.submission_id}），不能再调整页面。")
    if letter.text is not None:
        raise LetterError(f"第 {letter.seq} 封已保存校对后的文字，调整页面前请先在校对页"
                          "点“恢复识别文字”，以免文字与页面对不上。")


@contextmanager
def _grouping(desk: Desk, batch_id: int) -> Iterator[_Grouping]:
    with desk.sessions() as session:
        begin_write(session)
        grouping = _Grouping(session, batch_id)
        yield grouping
        grouping.save()
        session.commit()


def _page_place(g: _Grouping, page_id: int) -> tuple[int, int]:
    """(letter index, page index) of a page in the grouping."""
    for i, letter in enumerate(g.letters):
        for j, page in enumerate(g.pages[letter.id]):
            if page.id == page_id:
                return i, j
    raise LetterError("没有这一页，请刷新页面。")


def split_letter(desk: Desk, batch_id: int, page_id: int) -> None:
    """Start a new letter at this page: it and the pages after it become the next letter."""
    with _grouping(desk, batch_id) as g:
        i, j = _page_place(g, page_id)
        letter = g.letters[i]
        if j == 0:
            raise LetterError("这一页已经是一封信的第一页。")
        _editable(letter)
        new = g.add_letter(i + 1)
        g.pages[new.id] = g.pages[letter.id][j:]
        g.pages[letter.id] = g.pages[letter.id][:j]


def merge_with_previous(desk: Desk, batch_id: int, letter_id: int) -> int:
    """Append this letter's pages to the letter before it; return its first page's id."""
    with _grouping(desk, batch_id) as g:
        i = g.index(letter_id)
        if i == 0:
            raise LetterError("这是第一封信，前面没有可合并的信。")
        previous, letter = g.letters[i - 1], g.letters[i]
        _editable(previous)
        _editable(letter)
        first = g.pages[letter.id][0].id
        g.pages[previous.id] += g.pages[letter.id]
        g.pages[letter.id] = []
    return first


def move_page(desk: Desk, batch_id: int, page_id: int, step: int) -> None:
    """Move a page one place up (-1) or down (+1); past a letter's edge it joins the
    neighbouring letter (its last page going up, its first going down)."""
    if step not in (-1, 1):
        raise LetterError("只能上移或下移一页。")
    with _grouping(desk, batch_id) as g:
        i, j = _page_place(g, page_id)
        letter = g.letters[i]
        pages = g.pages[letter.id]
        _editable(letter)
        if 0 <= j + step < len(pages):
            pages[j], pages[j + step] = pages[j + step], pages[j]
            return
        k = i + step
        if not 0 <= k < len(g.letters):
            raise LetterError("已经是第一页。" if step < 0 else "已经是最后一页。")
        other = g.letters[k]
        _editable(other)
        page = pages.pop(j)
        if step < 0:
            g.pages[other.id].append(page)
        else:
            g.pages[other.id].insert(0, page)


def regroup(desk: Desk, batch_id: int) -> int:
    """Group the whole batch as the OCR text suggests (keeping the page order); return the
    number of letters. Refused once a letter was submitted or its text saved."""
    with _grouping(desk, batch_id) as g:
        for letter in g.letters:
            _editable(letter)
        _apply_suggestion(g)
        return sum(1 for letter in g.letters if g.pages[letter.id])


def _apply_suggestion(g: _Grouping) -> None:
    source = g.session.get_one(m.ScanBatch, g.batch_id).source
    order = [page for letter in g.letters for page in g.pages[letter.id]]
    clues = [PageClue(file=p.file_id, image=p.file.content_type.startswith("image/"),
                      text=p.ocr_text if p.ocr_status == "done" else None) for p in order]
    starts = suggest_grouping(clues, source=source)
    groups: list[list[m.ScanPage]] = []
    for page, start in zip(order, starts, strict=True):
        if start or not groups:
            groups.append([])
        groups[-1].append(page)
    while len(g.letters) < len(groups):
        g.add_letter(len(g.letters))
    for k, letter in enumerate(g.letters):
        g.pages[letter.id] = groups[k] if k < len(groups) else []


def _untouched(g: _Grouping) -> bool:
    """Whether the grouping is still the first one: each file one letter, in upload order."""
    seen: list[int] = []
    for letter in g.letters:
        pages = g.pages[letter.id]
        if (letter.text is not None or letter.submission_id is not None
                or len({p.file_id for p in pages}) != 1
                or [p.page_no for p in pages] != list(range(1, len(pages) + 1))):
            return False
        seen.append(pages[0].file.seq)
    return seen == sorted(seen)


def apply_suggestion_when_read(desk: Desk, batch_id: int) -> bool:
    """Once a complete batch is read, group it as its text suggests, unless the officer has
    already worked on it. Return whether the grouping was applied."""
    with desk.sessions() as session:
        begin_write(session)
        batch = session.get(m.ScanBatch, batch_id, with_for_update=True)
        unread = session.scalar(select(func.count()).where(
            m.ScanPage.batch_id == batch_id, m.ScanPage.ocr_status.in_(("pending", "running"))))
        if batch is None or not batch.complete or unread:
            return False
        g = _Grouping(session, batch_id)
        if not _untouched(g):
            return False
        _apply_suggestion(g)
        g.save()
        session.commit()
    log.info("scan batch %s grouped as suggested", batch_id)
    return True


# --- OCR state a person changes -------------------------------------------------------------


def retry_pages(desk: Desk, batch_id: int, page_ids: Sequence[int] | None = None) -> int:
    """Queue failed pages (these, or all of the batch) for OCR again; return how many."""
    with desk.sessions() as session:
        begin_write(session)
        query = select(m.ScanPage).where(m.ScanPage.batch_id == batch_id,
                                         m.ScanPage.ocr_status == "failed")
        if page_ids is not None:
            query = query.where(m.ScanPage.id.in_(page_ids))
        pages = list(session.scalars(query))
        for page in pages:
            page.ocr_status, page.ocr_attempts, page.ocr_claim = "pending", 0, None
            page.ocr_claimed_at = None  # due at once: a person asked
            page.ocr_error = ""
        session.commit()
    return len(pages)


# --- text and submission --------------------------------------------------------------------


def _letter_for_write(session: Session, letter_id: int) -> m.ScanLetter:
    """The letter, its batch locked against a concurrent split or merge; refused if sent."""
    batch_id = session.scalar(select(m.ScanLetter.batch_id).where(m.ScanLetter.id == letter_id))
    if batch_id is not None:
        _lock_batch(session, batch_id)
    letter = session.get(m.ScanLetter, letter_id, populate_existing=True,
                         options=[selectinload(m.ScanLetter.pages)])
    if letter is None:
        raise LetterError("没有这封信，可能已被合并；请返回批次页面。")
    if letter.submission_id is not None:
        raise LetterError(f"这封信已提交（#{letter.submission_id}），不能重复提交或修改。")
    return letter


def _checked_text(text: str) -> str:
    text = clean_text(text)
    if len(text) > DOCUMENT_MAX_CHARS:
        raise LetterError(f"信件文字最多 {DOCUMENT_MAX_CHARS} 字，当前 {len(text)} 字。")
    return text


REGROUPED = "识别完成后这封信的页面已重新分组或调整，请对照左侧原件核对文字后再保存或提交。"


def _check_pages(letter: m.ScanLetter, expected: Sequence[int] | None) -> None:
    """The text was typed against these pages: refuse it for a letter that now has others."""
    if expected is not None and [p.id for p in letter.pages] != list(expected):
        raise LetterError(REGROUPED)


def save_text(desk: Desk, letter_id: int, text: str,
              expected_pages: Sequence[int] | None = None) -> None:
    """Keep the officer's corrected text; the OCR text itself is kept as None (unchanged).

    `expected_pages` are the page ids the officer saw beside the text."""
    text = mask_text(_checked_text(text))  # the signer is masked on submission
    with desk.sessions() as session:
        begin_write(session)
        letter = _letter_for_write(session, letter_id)
        _check_pages(letter, expected_pages)
        letter.text = None if text == ocr_text(letter) else text
        session.commit()


def reset_text(desk: Desk, letter_id: int) -> None:
    """Drop the saved text: the letter shows its OCR text again."""
    with desk.sessions() as session:
        begin_write(session)
        _letter_for_write(session, letter_id).text = None
        session.commit()


@dataclass(frozen=True)
class Signer:
    """The signer of a named letter, as the officer read it from the page."""

    name: str = ""
    phone: str = ""


def submit_letter(
    desk: Desk, letter_id: int, *, staff_id: int, staff_label: str, text: str | None = None,
    signer: Signer | None = None, expected_pages: Sequence[int] | None = None,
    partial_ok: bool = False,
) -> Receipt:
    """Send a letter into intake as an item; `text` (if given) is the reviewed text.

    The item is received when the box was opened, carries the letter's original files, and
    gets a random query password: nobody is told its code. Refuses an empty text, a letter
    whose pages are still being read (unless the officer says the text is complete), a letter
    whose pages are no longer `expected_pages` (what the officer saw), and a second
    submission. The signer's name and number are sealed as identity and hidden in the text.
    """
    with desk.sessions() as session:
        letter = session.get(m.ScanLetter, letter_id, options=[
            selectinload(m.ScanLetter.pages).selectinload(m.ScanPage.file)])
        if letter is None:
            raise LetterError("没有这封信，可能已被合并；请返回批次页面。")
        if letter.submission_id is not None:
            raise LetterError(f"这封信已提交（#{letter.submission_id}），不能重复提交。")
        batch = session.get(m.ScanBatch, letter.batch_id)
        assert batch is not None
        _check_pages(letter, expected_pages)
        if not partial_ok and any(p.ocr_status in ("pending", "running") for p in letter.pages):
            raise LetterError("这封信还有页面正在识别，文字可能不全。请稍候再提交；"
                              "如已对照原件录入全部文字，请勾选“文字已完整”后提交。")
        body = _checked_text(text if text is not None else letter_text(letter))
        page_ids = [p.id for p in letter.pages]
        files: dict[int, m.ScanFile] = {}
        for page in letter.pages:
            files.setdefault(page.file_id, page.file)
        channel, received_at, batch_id = SOURCE_CHANNELS[batch.source], batch.opened_at, batch.id
        round_id = batch.round_id
    if not body:
        raise LetterError("信件内容为空，不能提交。请对照原件录入或校对文字后再提交。")
    identity = Identity(name=signer.name, phone=signer.phone) if signer else Identity()
    try:
        entry = round_for(desk, round_id)  # the batch's box decided it
    except InvalidSubmissionError:
        raise LetterError("这批来信所属的轮次已归档，不能再提交。") from None
    flags = round_flags(received_at, entry.cfg)

    def record(session: Session, row: m.Submission, _code: str) -> None:
        letter = _letter_for_write(session, letter_id)  # a second submission stops here
        if [p.id for p in letter.pages] != page_ids:
            raise LetterError(REGROUPED)
        # The text as stored on the item: masked there, the original sealed with the identity.
        letter.text, letter.submission_id, letter.submitted_by = row.text, row.id, staff_id
        for page in letter.pages:  # the signer is known now: hide them in the OCR text too
            page.ocr_text = mask_text(page.ocr_text, identity)
        session.add(m.DeskEntry(submission_id=row.id, recorded_by=staff_id, flags=flags))
        # The originals, already in the store: the item shares them (names sealed again).
        db_add_attachments(session, desk.keyring, row.id, [
            StoredFile(f.sha256, f.size, open_name(desk.keyring, f.name_sealed)
                       if f.name_sealed is not None else f.original_name,
                       f.content_type, f.storage_name, False)
            for f in files.values() if f.storage_name])
        db_record(session, "letter.submit", actor_id=staff_id, actor_label=staff_label,
                  submission_id=row.id, batch_id=batch_id, letter_id=letter_id)

    submission = Submission(
        channel=channel, received_at=received_at, text=body,
        password=secrets.token_urlsafe(24),  # the code is shown to nobody: nobody to tell
        anonymous=identity.is_empty(), identity=identity, round_id=entry.id)
    receipt = ingest(desk, submission, in_transaction=record)
    log.info("letter %s submitted as item %s", letter_id, receipt.submission_id)
    return receipt
