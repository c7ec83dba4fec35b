"""Hostile inputs built in the tests: PDFs whose /Count lies, images that declare huge sizes."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def lying_pdf(declared: int = 1_000_000, real: int = 1) -> bytes:
    """A minimal PDF whose page tree holds `real` empty pages but declares `declared`."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(real))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % declared]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 280] >>"] * real
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small PNG whose header declares width x height pixels (its data is a stub)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\x00" * (width + 1) * 4)  # a few rows; a decoder wants them all
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows)
            + chunk(b"IEND", b""))


def tiff(frames: int, size: tuple[int, int] = (40, 60)) -> bytes:
    """A multi-page TIFF of blank frames."""
    pages = [Image.new("L", size, 255) for _ in range(frames)]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:])
    return out.getvalue()


def tiff_with_huge_frame(side: int = 60_000) -> bytes:
    """A two-page TIFF whose second frame declares side x side pixels (its data is a stub)."""
    data = bytearray(tiff(2, (40, 60)))
    assert data[:4] == b"II*\x00"
    ifd = struct.unpack_from("<I", data, 4)[0]
    ifd = struct.unpack_from("<I", data, ifd + 2 + 12 * struct.unpack_from("<H", data, ifd)[0])[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):  # ImageWidth, ImageLength
            struct.pack_into("<H" if kind == 3 else "<I", data, entry + 8, side)
    return bytes(data)
