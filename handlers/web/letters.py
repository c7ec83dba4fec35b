"""Scanned letters and suggestion-box notes: batch upload, grouping, OCR review, submission.

The upload is streamed: the body is read chunk by chunk through python-multipart's parser and
each file goes straight into an encrypted store write, so a batch of hundreds of MB passes
through a flat amount of memory. Flask's form parsing must therefore never touch that body,
and neither may the app-wide CSRFProtect, which reads `request.form` before any header. The
upload view is exempted from that global check (in `create_app`) and checks the token
itself: from the X-CSRFToken header when a script sends one, else from the `csrf_token`
field, which the form sends before any file; no file is stored before the token is valid.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError, same_origin, validate_csrf
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from wtforms import ValidationError

from handlers.web.context import desk, now_local, parse_local, require
from intake import letters, ocr
from intake.attachments import human_size
from intake.audit import db_record
from intake.masking import download_name
from intake.ocrworker import PlainCopies, page_jpeg
from intake.store import models as m
from intake.store.db import begin_write
from intake.submission import InvalidSubmissionError

bp = Blueprint("letters", __name__)

CHUNK = 256 * 1024  # read from the request body at a time
FIELD_MAX = 16 * 1024  # a form field (not a file) of the upload
FIELDS_MAX = 20
THUMB_WIDTH, VIEW_WIDTH, MAX_WIDTH = 240, 1000, 1600
OCR_STATUS = {"pending": "待识别", "running": "识别中", "done": "已识别", "failed": "识别失败"}
SOURCES = {"box": "意见箱", "postal": "邮政信箱"}


@bp.before_request
def require_desk() -> None:
    require("desk")


@bp.context_processor
def letters_context() -> dict[str, Any]:
    return {"OCR_STATUS": OCR_STATUS, "SOURCES": SOURCES, "letter_text": letters.letter_text,
            "confidence": letters.confidence, "round_name": _round_name}


def _round_name(round_id: int) -> str:
    entry = desk().rounds.get(round_id)
    return entry.cfg.name if entry is not None else ""


# --- batches ----------------------------------------------------------------------------


@bp.get("/")
def index() -> str:
    summaries = letters.batch_summaries(desk())
    return render_template("staff/letters_index.html", summaries=summaries,
                           open_work=[s for s in summaries if s.work_left])


@bp.get("/upload")
def upload_form() -> str:
    return _render_upload()


def _render_upload(error: str = "", fields: dict[str, str] | None = None) -> str:
    fields = fields or {}
    now = now_local()
    boxes = letters.boxes(desk(), g.viewer.team_ids)
    rounds = list(dict.fromkeys((b.round_id, b.round_name) for b in boxes))
    return render_template(
        "staff/letters_upload.html", error=error, fields=fields, boxes=boxes, rounds=rounds,
        opened_default=fields.get("opened_at") or now,
        max_batch=_size(desk().settings.scan_max_batch_bytes),
        max_file=_size(desk().settings.scan_max_file_bytes))


@bp.post("/upload")
def upload() -> Any:
    settings = desk().settings
    request.max_content_length = settings.scan_max_batch_bytes  # this request only
    ctype, options = parse_options_header(request.content_type or "")
    boundary = options.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        abort(400)
    header_token = request.headers.get("X-CSRFToken")
    if header_token is not None:
        _check_csrf(header_token)
    try:
        body = _Body(request.stream, boundary)
    except RequestEntityTooLarge:
        return _render_upload(f"一次上传的文件合计不能超过 {_size(request.max_content_length)}"
                              "，请分成几批上传。"), 413
    fields: dict[str, str] = {}
    batch_id: int | None = None
    stored = pages = 0
    try:
        for part in body.parts():
            if part.filename is None:
                if len(fields) >= FIELDS_MAX:
                    abort(400)
                fields[part.name] = part.text()
                continue
            if not part.filename:
                continue  # a file input left empty
            if batch_id is None:
                if header_token is None:
                    _check_csrf(fields.get("csrf_token"))
                batch_id = _create_batch(fields)
            added = letters.add_file(desk(), batch_id, part.filename, part)
            stored, pages = stored + 1, pages + added.pages
            _wake_ocr()
    except letters.IncompleteFileError:
        body.broken = True  # the upload broke off inside a file; what arrived is kept
    except letters.LetterError as exc:  # a field of the batch; nothing was stored yet
        return _render_upload(exc.message, fields), 400
    if batch_id is None:
        if header_token is None:
            _check_csrf(fields.get("csrf_token"))
        return _render_upload("请选择要上传的扫描件或照片。", fields), 400
    if body.broken:
        flash(f"上传中断：已保存 {stored} 个文件（{pages} 页）。未收到的文件请在新批次中重新上传。")
    else:
        letters.finish_batch(desk(), batch_id)
        flash(f"已收到 {stored} 个文件，共 {pages} 页，正在后台识别文字。")
    _wake_ocr()
    url = url_for(".batch", batch_id=batch_id)
    if request.accept_mimetypes.best == "application/json":  # the page's upload script
        return jsonify(batch_url=url)
    return redirect(url, 303)


def _size(n: int | None) -> str:
    return f"{n / 1024 ** 3:.3g} GB" if n and n >= 1024 ** 3 else human_size(n or 0)


def _check_csrf(token: str | None) -> None:
    """What CSRFProtect would check, on a token we found without parsing the form."""
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(exc.args[0]) from exc
    if request.is_secure and current_app.config["WTF_CSRF_SSL_STRICT"] and not (
            request.referrer and same_origin(request.referrer, f"https://{request.host}/")):
        raise CSRFError("The referrer does not match the host.")


def _create_batch(fields: dict[str, str]) -> int:
    try:
        opened_at = parse_local(fields.get("opened_at", ""), "opened_at")
    except InvalidSubmissionError:
        raise letters.LetterError("请填写开箱（取信）时间。") from None
    # The form sends the box's key; a script may send source, box name and round instead.
    return letters.create_batch(
        desk(), source=fields.get("source", ""), box=fields.get("box", ""),
        round_slug=fields.get("round") or None, team_ids=g.viewer.team_ids,
        opened_at=opened_at, note=fields.get("note", ""), staff_id=g.staff.id)


def _wake_ocr() -> None:
    worker = current_app.extensions.get("ocr_worker")
    if worker is not None:
        worker.wake.set()


class _Part:
    """One part of the body: a form field or a file, read once, in order."""

    def __init__(self, body: _Body, name: str, filename: str | None) -> None:
        self._body, self.name, self.filename = body, name, filename

    def read(self, size: int = -1) -> bytes:
        return self._body.read_part(size)

    def text(self) -> str:
        data = self.read(FIELD_MAX + 1)
        if len(data) > FIELD_MAX:
            abort(400)
        return data.decode("utf-8", "replace")


class _Body:
    """A multipart body pulled through python-multipart's push parser, a chunk at a time.

    The parser's callbacks queue events; a reader pulls the next chunk from the request only
    when the queue is empty, so at most one chunk of the body is in memory.
    """

    def __init__(self, stream: Any, boundary: bytes) -> None:
        self._stream = stream
        self._events: deque[tuple[str, bytes]] = deque()
        self._data = bytearray()
        self._in_part = False
        self._ended = False
        self.broken = False  # the body stopped before its closing boundary
        put = self._events.append
        self._parser = MultipartParser(boundary, callbacks={
            "on_part_begin": lambda: put(("begin", b"")),
            "on_header_field": lambda d, s, e: put(("field", d[s:e])),
            "on_header_value": lambda d, s, e: put(("value", d[s:e])),
            "on_header_end": lambda: put(("header", b"")),
            "on_headers_finished": lambda: put(("headers", b"")),
            "on_part_data": lambda d, s, e: put(("data", d[s:e])),
            "on_part_end": lambda: put(("end", b"")),
            "on_end": lambda: put(("done", b"")),
        })

    def _next(self) -> tuple[str, bytes] | None:
        while not self._events:
            if self._ended:
                return None
            try:
                chunk = self._stream.read(CHUNK)
                if chunk:
                    self._parser.write(chunk)
            except (ClientDisconnected, FormParserError):  # cut off, or garbled from here on
                chunk = b""
            if not chunk:
                self._ended = True
                return None
        return self._events.popleft()

    def parts(self) -> Iterator[_Part]:
        while (event := self._next()) is not None:
            if event[0] == "done":
                return
            if event[0] != "begin":
                continue
            headers: dict[str, bytes] = {}
            field = value = b""
            while (event := self._next()) is not None and event[0] != "headers":
                kind, data = event
                if kind == "field":
                    field += data
                elif kind == "value":
                    value += data
                elif kind == "header":
                    headers[field.decode("latin-1").lower()] = value
                    field = value = b""
            # Browsers send names as UTF-8 bytes; read as latin-1 they come back unchanged.
            _, params = parse_options_header(
                headers.get("content-disposition", b"").decode("latin-1"))
            name = params.get(b"name", b"").decode("utf-8", "replace")
            filename = params.get(b"filename")
            self._in_part = True
            yield _Part(self, name, None if filename is None
                        else filename.decode("utf-8", "replace"))
            while self._in_part:  # whatever the consumer left unread
                self.read_part(CHUNK)
                self._data.clear()
        self.broken = True

    def read_part(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the current part (the rest of it for -1); b"" at its end."""
        while self._in_part and (size < 0 or len(self._data) < size):
            event = self._next()
            if event is None:
                self._in_part, self.broken = False, True
                raise letters.IncompleteFileError()
            if event[0] == "data":
                self._data += event[1]
            elif event[0] == "end":
                self._in_part = False
        n = len(self._data) if size < 0 else min(size, len(self._data))
        out = bytes(self._data[:n])
        del self._data[:n]
        return out


@bp.get("/batches/<int:batch_id>")
def batch(batch_id: int) -> Any:
    with desk().sessions() as db:
        row = letters.db_batch(db, batch_id)
        if row is None:  # another team's batch is not found (intake.scope)
            abort(404)
        counts = {status: 0 for status in m.OCR_STATUSES}
        for letter in row.letters:
            for page in letter.pages:
                counts[page.ocr_status] += 1
        return render_template("staff/letters_batch.html", batch=row, counts=counts,
                               unkept=[f for f in row.files if not f.storage_name],
                               file_errors=[f for f in row.files if f.error and f.storage_name])


@bp.get("/batches/<int:batch_id>/progress")
def batch_progress(batch_id: int) -> Any:
    try:
        return jsonify(letters.progress(desk(), batch_id))
    except letters.LetterError:
        abort(404)


@bp.post("/batches/<int:batch_id>")
def edit_batch(batch_id: int) -> Any:
    """One form for the whole batch page: `op` is "split:<page>", "merge:<letter>",
    "up:<page>", "down:<page>", "retry:<page>", "retry_all" or "regroup"."""
    op, _, arg = request.form.get("op", "").partition(":")
    target = int(arg) if arg.isascii() and arg.isdigit() else None
    anchor = f"p{target}" if target is not None and op != "merge" else ""
    try:
        if op == "split" and target is not None:
            letters.split_letter(desk(), batch_id, target)
        elif op == "merge" and target is not None:
            anchor = f"p{letters.merge_with_previous(desk(), batch_id, target)}"
        elif op in ("up", "down") and target is not None:
            letters.move_page(desk(), batch_id, target, -1 if op == "up" else 1)
        elif op == "retry" and target is not None:
            letters.retry_pages(desk(), batch_id, [target])
            _wake_ocr()
        elif op == "retry_all":
            flash(f"已重新排队识别 {letters.retry_pages(desk(), batch_id)} 页。")
            _wake_ocr()
        elif op == "regroup":
            flash(f"已按识别文字重新分组：共 {letters.regroup(desk(), batch_id)} 封。")
        else:
            abort(400)
    except letters.LetterError as exc:
        flash(exc.message)
    focus = request.form.get("focus", "")  # the page the officer was on (sent by the script)
    if focus.isascii() and focus.isdigit():
        anchor = f"p{focus}"
    return redirect(url_for(".batch", batch_id=batch_id, _anchor=anchor or None), 303)


# --- pages and files --------------------------------------------------------------------


def _copies() -> PlainCopies:
    copies = current_app.extensions.get("letters_copies")
    if copies is None:
        copies = current_app.extensions.setdefault("letters_copies", PlainCopies(desk()))
    return copies


@bp.get("/pages/<int:page_id>/image")
def page_image(page_id: int) -> Response:
    width = request.args.get("w", type=int) or VIEW_WIDTH
    width = max(THUMB_WIDTH // 2, min(width, MAX_WIDTH))
    with desk().sessions() as db:
        page = db.get(m.ScanPage, page_id)
        if page is None or not page.file.storage_name:
            abort(404)
        file, page_no, rotation = page.file, page.page_no, page.ocr_rotation
        letter_row = db.get(m.ScanLetter, page.letter_id)
        submission_id = letter_row.submission_id if letter_row else None
    if width > THUMB_WIDTH:  # a readable page is on record; the batch's thumbnails are not
        with desk().sessions() as db:
            begin_write(db)
            db_record(db, "scan.page_view", actor_id=g.staff.id, actor_label=g.staff.username,
                      submission_id=submission_id, batch_id=file.batch_id, scan_page_id=page_id)
            db.commit()
    try:
        data = page_jpeg(_copies(), file, page_no, rotation, width)
    except (ocr.OcrInputError, FileNotFoundError):
        abort(404)  # the page shows its alt text and its error
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    g.no_store = True
    return response


@bp.get("/files/<int:file_id>")
def original(file_id: int) -> Response:
    """The original as received, always as a download (it may carry active content)."""
    with desk().sessions() as db:
        begin_write(db)
        f = db.get(m.ScanFile, file_id)
        if f is None or not f.storage_name:
            abort(404)
        db_record(db, "scan.download", actor_id=g.staff.id, actor_label=g.staff.username,
                  batch_id=f.batch_id, scan_file_id=f.id)
        db.commit()
    response = Response(desk().files.read(f.storage_name), mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = (
        f"attachment; filename*=UTF-8''{quote(download_name(f.original_name, f.content_type))}")
    response.headers["Content-Length"] = str(f.size)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    g.no_store = True
    return response


# --- letters ----------------------------------------------------------------------------


@bp.get("/letters/<int:letter_id>")
def letter(letter_id: int) -> Any:
    return _render_letter(letter_id)


def _render_letter(letter_id: int, *, error: str = "", text: str | None = None,
                   signer: letters.Signer | None = None, status: int = 200) -> Any:
    with desk().sessions() as db:
        row = db.get(m.ScanLetter, letter_id)
        if row is None:
            if text is None:
                abort(404)
            # Merged away while the officer typed: keep what they typed on the page.
            return render_template("staff/letters_gone.html", error=error, text=text), status
        batch_row = letters.db_batch(db, row.batch_id)
        assert batch_row is not None
        siblings = batch_row.letters
        index = next(i for i, x in enumerate(siblings) if x.id == row.id)
        row = siblings[index]
        following = [x for x in siblings[index + 1:] + siblings[:index]
                     if x.submission_id is None]
        body = render_template(
            "staff/letters_letter.html", letter=row, batch=batch_row, total=len(siblings),
            text=text if text is not None else letters.letter_text(row),
            ocr_text=letters.ocr_text(row), signer=signer or letters.Signer(), error=error,
            next_letter=following[0] if following else None,
            reading=any(p.ocr_status in ("pending", "running") for p in row.pages))
        return body, status


@bp.post("/letters/<int:letter_id>")
def edit_letter(letter_id: int) -> Any:
    form = request.form
    action = form.get("action", "")
    text = form.get("text", "")
    signer = letters.Signer(name=form.get("signer_name", "").strip(),
                            phone=form.get("signer_phone", "").strip())
    # The pages the officer saw beside the text (OCR may regroup the batch meanwhile).
    seen = ([int(x) for x in form["pages"].split(",") if x.isdigit()]
            if "pages" in form else None)
    try:
        if action == "save":
            letters.save_text(desk(), letter_id, text, expected_pages=seen)
            flash("已保存校对后的文字。")
            return redirect(url_for(".letter", letter_id=letter_id), 303)
        if action == "reset":
            letters.reset_text(desk(), letter_id)
            flash("已恢复为识别出的文字。")
            return redirect(url_for(".letter", letter_id=letter_id), 303)
        if action != "submit":
            abort(400)
        receipt = letters.submit_letter(
            desk(), letter_id, staff_id=g.staff.id, staff_label=g.staff.username, text=text,
            signer=signer if signer.name or signer.phone else None, expected_pages=seen,
            partial_ok=form.get("complete") == "1")
    except letters.LetterError as exc:
        return _render_letter(letter_id, error=exc.message, text=text, signer=signer,
                              status=409)
    except InvalidSubmissionError as exc:
        return _render_letter(letter_id, error=exc.message, text=text, signer=signer,
                              status=400)
    flash(f"已提交，进入研判队列：#{receipt.submission_id}。")
    return redirect(_after_submit(letter_id), 303)


def _after_submit(letter_id: int) -> str:
    """The next letter of the batch still to submit, else the batch page."""
    with desk().sessions() as db:
        row = db.get(m.ScanLetter, letter_id)
        assert row is not None
        batch_row = letters.db_batch(db, row.batch_id)
        assert batch_row is not None
        after = [x for x in batch_row.letters if x.seq > row.seq and x.submission_id is None]
        before = [x for x in batch_row.letters if x.seq < row.seq and x.submission_id is None]
        following = (after or before or [None])[0]
        if following is None:
            return url_for(".batch", batch_id=row.batch_id)
        return url_for(".letter", letter_id=following.id)
