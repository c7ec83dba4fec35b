"""The attachment store: files sniffed, size-checked, encrypted, content-addressed.

A file's type is decided by its bytes, never by its name or the client's claim. Files are
written encrypted to a temporary name and renamed into place, so a crash leaves no half file
under a real name. The same content stored twice occupies one file.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

import filetype

from intake.protect import Keyring
from intake.submission import (
    AttachmentRejectedError,
    AttachmentTooLargeError,
    IncomingFile,
    clean_text,
)

# Sniffed MIME type → (kind, human label). Nothing that a browser would run is on the list.
ALLOWED_TYPES: dict[str, tuple[str, str]] = {
    "image/jpeg": ("image", "JPEG 图片"),
    "image/png": ("image", "PNG 图片"),
    "image/gif": ("image", "GIF 图片"),
    "image/webp": ("image", "WebP 图片"),
    "image/heic": ("image", "HEIC 图片"),
    "image/bmp": ("image", "BMP 图片"),
    "image/tiff": ("image", "TIFF 图片"),
    "application/pdf": ("document", "PDF 文档"),
    "application/msword": ("document", "Word 文档"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        "document", "Word 文档"),
    "application/vnd.ms-excel": ("document", "Excel 表格"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (
        "document", "Excel 表格"),
    "application/vnd.ms-powerpoint": ("document", "PowerPoint 演示文稿"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "document", "PowerPoint 演示文稿"),
    "video/mp4": ("video", "MP4 视频"),
    "video/quicktime": ("video", "MOV 视频"),
    "video/3gpp": ("video", "3GP 视频"),
    "audio/mpeg": ("audio", "MP3 录音"),
    "audio/mp4": ("audio", "M4A 录音"),
    "audio/x-wav": ("audio", "WAV 录音"),
    "audio/amr": ("audio", "AMR 录音"),
}
ACCEPT_HINT = "图片（JPG、PNG、HEIC 等）、PDF、Word、Excel、PowerPoint、视频或录音"
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    original_name: str
    content_type: str
    storage_name: str
    created: bool  # False when the same content was already stored

class AttachmentStore:
    """Encrypted files under data_dir/attachments, named by a keyed digest of their sha256."""

    def __init__(self, root: Path, keyring: Keyring) -> None:
        self.root = root
        self.keyring = keyring

    def put(self, incoming: IncomingFile, *, max_bytes: int) -> StoredFile:
        """Sniff, check and store one file; raise AttachmentRejectedError with a Chinese reason."""
        name = safe_filename(incoming.filename)
        head = incoming.stream.read(SNIFF_BYTES)
        if not head:
            raise AttachmentRejectedError("attachments", f"附件“{name}”是空文件。")
        mime = allowed_type(head)
        if mime is None:
            raise AttachmentRejectedError(
                "attachments", f"附件“{name}”的格式不被接受。可上传：{ACCEPT_HINT}。"
            )
        return self._write(_Capped(_Prefixed(head, incoming.stream), max_bytes, name), name, mime)

    def put_original(self, data: bytes, name: str, content_type: str) -> StoredFile:
        """Keep an original as received (a raw e-mail), encrypted, without judging its type."""
        return self._write(io.BytesIO(data), name, content_type)

    def _write(self, source: BinaryIO | io.RawIOBase, name: str, mime: str) -> StoredFile:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                sha256, size = self.keyring.encrypt_stream(source, out)
                out.flush()
                os.fsync(out.fileno())
            storage_name = self.keyring.file_name(sha256)
            final = self.path_of(storage_name)
            final.parent.mkdir(parents=True, exist_ok=True)
            created = not final.exists()
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredFile(sha256, size, name, mime, storage_name, created)

    def discard(
        self, files: list[StoredFile], in_use: Callable[[str], bool] | None = None
    ) -> None:
        """Remove files a failed intake wrote: never ones stored before, nor ones that a
        concurrent intake of the same content committed meanwhile (`in_use(sha256)`)."""
        for f in files:
            if f.created and not (in_use is not None and in_use(f.sha256)):
                self.path_of(f.storage_name).unlink(missing_ok=True)

    def path_of(self, storage_name: str) -> Path:
        return self.root / storage_name[:2] / storage_name[2:4] / storage_name

    def read(self, storage_name: str) -> Iterator[bytes]:
        """The plaintext of a stored file, chunk by chunk."""
        with self.path_of(storage_name).open("rb") as f:
            yield from self.keyring.decrypt_stream(f)


def allowed_type(head: bytes) -> str | None:
    """The sniffed MIME type of a file's first bytes if it is one we accept, else None."""
    kind = filetype.guess(head)
    return kind.mime if kind is not None and kind.mime in ALLOWED_TYPES else None


def human_size(n: int) -> str:
    """2 MB, 300 KB: how limits are told to people."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.3g} MB"
    return f"{max(1, n // 1024)} KB"


def safe_filename(name: str) -> str:
    """The base name only, without control characters, at most 120 characters."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = clean_text(base).replace("\n", " ").strip(". ")
    if not base:
        return "附件"
    stem, dot, ext = base.rpartition(".")
    if dot and len(ext) <= 10:
        return stem[: 120 - len(ext) - 1] + "." + ext
    return base[:120]


class _Prefixed(io.RawIOBase):
    """Bytes already read for sniffing, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                out, self._head = self._head, b""
                more = self._rest.read(-1 if size < 0 else size - len(out))
                return out + (more or b"")
            out, self._head = self._head[:size], self._head[size:]
            return out
        return self._rest.read(size) or b""


class _Capped(io.RawIOBase):
    """Refuses to yield more than `limit` bytes, raising the reporter-facing error instead."""

    def __init__(self, inner: io.RawIOBase, limit: int, name: str) -> None:
        self._inner, self._left, self._name, self._limit = inner, limit, name, limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._left -= len(data)
        if self._left < 0:
            raise AttachmentTooLargeError(
                "attachments", f"附件“{self._name}”超过 {human_size(self._limit)} 的上限。")
        return data
