"""What decoding an untrusted file may cost: real PDF page counts and image pixel limits.

A PDF's page count is what its page tree really holds, never its declared /Count (a 129-byte
file may declare a million pages, and PDFium believes it): the tree is walked with pypdf,
each object once, and the walk stops as soon as the limit is passed. An image is measured
from its header before anything is decoded: more than MAX_PIXELS (per frame of a TIFF) is
refused with a Chinese message. Pillow's own decompression-bomb check stays on as a backstop
set well above ours, so that its warning never fires on an image we would accept (a large
JPEG is decoded at a reduced scale) and its error only on an image we refuse anyway.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

MAX_PIXELS = 120_000_000  # per image or frame; 1200 dpi A3 is 97 Mpx
# Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that. A JPEG up to 8 times our
# limit is still accepted (it is decoded at 1/2 to 1/8 scale), so the backstop sits there.
PILLOW_BACKSTOP = 8 * MAX_PIXELS
TREE_NODES_PER_PAGE = 4  # intermediate nodes walked per counted page before giving up


class DecodeLimitError(Exception):
    """A file over a decoding limit, or unreadable; the message is Chinese, for staff."""


def pillow_limits() -> None:
    """Set Pillow's decompression-bomb limit to our backstop (idempotent, process-wide)."""
    Image.MAX_IMAGE_PIXELS = PILLOW_BACKSTOP


def check_pixels(image: Image.Image, name: str) -> None:
    """Refuse an opened (not yet decoded) image or frame larger than MAX_PIXELS as it stands
    (after `draft()` has reduced a JPEG, or `seek()` reached a frame)."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise DecodeLimitError(_too_large(image, name))


def smallest_decode(image: Image.Image) -> int:
    """Pixels of the smallest decode possible: a JPEG can be decoded at 1/8 scale."""
    width, height = image.size
    if image.format == "JPEG":
        return math.ceil(width / 8) * math.ceil(height / 8)
    return width * height


def _too_large(image: Image.Image, name: str) -> str:
    width, height = image.size
    return (f"图片尺寸过大（{width}×{height} 像素，超过 {MAX_PIXELS // 1_000_000} 百万像素"
            f"的上限），无法处理：{name}")


@contextmanager
def open_image(source: str | Path | IO[bytes], name: str) -> Iterator[Image.Image]:
    """Image.open within our limits: the header is checked before any pixel is decoded.

    Raises DecodeLimitError for an image that even its smallest decode would put over
    MAX_PIXELS (Pillow's bomb warning and error included) and for a file Pillow cannot
    read. The caller calls `check_pixels` again after `draft()` or `seek()`.
    """
    pillow_limits()
    try:
        with Image.open(source) as image:
            if smallest_decode(image) > MAX_PIXELS:
                raise DecodeLimitError(_too_large(image, name))
            yield image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecodeLimitError(f"图片尺寸过大，无法处理：{name}") from exc
    except UnidentifiedImageError as exc:
        raise DecodeLimitError(f"无法识别的图片格式：{name}") from exc


def header_error(head: bytes, name: str) -> str:
    """The Chinese error for an image whose first bytes already declare it too large, else
    "" (also when the header is not all there: the decode will check again)."""
    try:
        with open_image(io.BytesIO(head), name):
            return ""
    except DecodeLimitError as exc:
        return "" if isinstance(exc.__cause__, UnidentifiedImageError) else str(exc)
    except (OSError, SyntaxError, ValueError, EOFError, Warning):
        return ""


def image_frames(path: str | Path, stop_after: int) -> int:
    """Frames of a multi-page TIFF (else 1), counted up to `stop_after` + 1 at most."""
    try:
        with open_image(path, Path(path).name) as image:
            if image.format != "TIFF":
                return 1
            frames = 1
            while frames <= stop_after:
                try:
                    image.seek(frames)
                except EOFError:
                    break
                frames += 1
            return frames
    except (DecodeLimitError, OSError, SyntaxError, ValueError, Warning):
        return 1  # unreadable or too large: reading page 1 will say why


def pdf_page_count(path: str | Path, stop_after: int) -> int | None:
    """Pages really in the PDF's page tree, counted up to `stop_after` + 1 at most.

    Leaves of the tree (nodes without /Kids) are counted, each object once, so a loop in the
    tree ends and a lying /Count changes nothing. Returns None when pypdf cannot read the
    file (PDFium, more lenient, may still open it).
    """
    import pypdf
    from pypdf.errors import PyPdfError

    budget = (stop_after + 1) * TREE_NODES_PER_PAGE + 1000
    try:
        with open(path, "rb") as file:  # read lazily, not the whole file into memory
            return _walk(pypdf.PdfReader(file), stop_after, budget)
    except (PyPdfError, KeyError, ValueError, TypeError, AttributeError, OSError,
            RecursionError) as exc:
        log.info("pypdf cannot walk a PDF's page tree (%s)", type(exc).__name__)
        return None


def _walk(reader: Any, stop_after: int, budget: int) -> int | None:
    """Leaves of the page tree, each object once, within `budget` nodes."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    if reader.is_encrypted and not reader.decrypt(""):
        return None
    stack = [reader.trailer["/Root"].get_object()["/Pages"]]
    seen: set[tuple[int, int]] = set()
    pages = 0
    while stack and pages <= stop_after:
        ref = stack.pop()
        if isinstance(ref, IndirectObject):
            if (ref.idnum, ref.generation) in seen:
                continue
            seen.add((ref.idnum, ref.generation))
        budget -= 1
        if budget < 0:
            return stop_after + 1  # a tree of empty nodes: treat it as over the limit
        node = ref.get_object()
        if not isinstance(node, DictionaryObject):
            continue
        kids = node.get("/Kids")
        kids = kids.get_object() if kids is not None else None
        if isinstance(kids, ArrayObject):
            stack.extend(reversed(kids))
        elif node.get("/Type") != "/Pages":
            pages += 1
    return pages
