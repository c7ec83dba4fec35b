"""OCR time and memory per page (`intake.ocr`) on rendered Chinese letters.

    .venv/bin/python bench/ocr_pages.py [--pages 20] [--photos 4] [--pdf-pages 5] [--dpi 200]

Renders --pages A4 pages at 150 dpi (1240 x 1754 px) from the test letters in
tests/ocr_letters.py (needs the Debian package fonts-noto-cjk), cycling through clean, noisy,
blurred, JPEG q35, unevenly lit, turned 90/180/270 and skewed (+5, -4 degrees) versions, and
recognises them one after another with one `OcrEngine`, as the service does. Each page is
rendered just before it is read and dropped after, so memory reflects the engine. Before that
a small one-line page loads all three models (detector, angle classifier, recogniser).

Prints OCR seconds per page (`PageText.seconds`: mean, p50, p95, max) over all pages and per
kind, with the CPU seconds per page (user+sys of all threads, `time.process_time`: unlike the
wall time not inflated by other work on a shared machine) and the character accuracy against
the rendered text; then rasterisation seconds per
page of a --pdf-pages PDF at --dpi (`render_pdf_page`), and one 300 dpi A4 scan (2480 x 3508,
reduced to 3000 px before detection). The resident memory now (VmRSS) and its peak (ru_maxrss)
are printed after the imports, after the model load and after the run; the peak includes the
bench's own rendering of the 12 MP test photos (bench/ocr_memory.py measures the engine alone).
The model load (`OcrEngine.load`) is timed apart from the first page. Runs offline;
onnxruntime uses `intake.ocr.THREADS` intra-op threads.

Then the layouts: two-column pages (rows aligned across the gutter, and staggered), phone
screen captures, vertical (竖排) pages printed and handwritten, and a handwriting-style
letter; and --photos 12 MP phone photos (3000 x 4000) of printed and handwriting-style
letters: rendered at 300 dpi, seen in perspective, unevenly lit, noisy, saved as JPEG in
the sensor's frame with an EXIF orientation tag, and read from the file as the service reads
an upload (`open_page_image`, then `read_image`; the seconds include opening the file).
Per kind: mean character accuracy, seconds and CPU seconds per page; then the mean accuracy over the
printed, screen and two-column pages. The load average is printed before and after: the
machine may be shared, and seconds grow with the load.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from intake import ocr  # noqa: E402
from tests import ocr_letters as L  # noqa: E402

KINDS: list[tuple[str, Callable[[Image.Image], Image.Image]]] = [
    ("clean", lambda im: im),
    ("noise", lambda im: L.add_noise(im, 22)),
    ("blur", lambda im: L.blur(im, 1.6)),
    ("jpeg q35", lambda im: L.jpeg(im, 35)),
    ("uneven light", L.uneven_lighting),
    ("turned 90", lambda im: L.rotate_page(im, 90)),
    ("turned 180", lambda im: L.rotate_page(im, 180)),
    ("turned 270", lambda im: L.rotate_page(im, 270)),
    ("skew +5", lambda im: L.skew_page(im, 5)),
    ("skew -4", lambda im: L.skew_page(im, -4)),
]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_mib() -> float:
    """Resident memory now (VmRSS), in MiB; 0.0 where /proc is missing."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory() -> str:
    return f"{rss_mib():7.1f} MiB now, peak {peak_rss_mib():7.1f} MiB"


def spread(values: list[float]) -> str:
    p50, p95 = np.percentile(values, [50, 95])
    return (f"mean {statistics.fmean(values):.3f}  p50 {p50:.3f}  p95 {p95:.3f}  "
            f"max {max(values):.3f}")


def layout_pages() -> list[tuple[str, Image.Image, str]]:
    """(kind, page, expected text) for the layouts beyond one printed column."""
    letters = L.LETTERS
    pages = [
        ("two columns", *L.render_columns(letters[0], letters[2], 26)),
        ("two columns", *L.render_columns(letters[1], letters[3], 24, stagger=True)),
        ("two columns", *L.render_columns(letters[5], letters[4], 28)),
        ("screen", *L.render_screen(letters[1])),
        ("screen", *L.render_screen(letters[3], 44)),
        ("vertical", *L.render_vertical(letters[2], 40)),
        ("vertical hw", *L.render_vertical(letters[5], 40, handwriting=True)),
        ("vertical hw", *L.render_vertical(letters[0], 34, handwriting=True, seed=4)),
        ("handwriting", *L.render_handwriting(letters[1], 34)),
        ("handwriting", *L.render_handwriting(letters[4], 30, seed=2)),
    ]
    return [(kind, page, text) for kind, page, text in pages]


def photo_files(folder: Path, count: int) -> list[tuple[str, Path, str]]:
    """(kind, JPEG file, expected text) for `count` 12 MP phone photos."""
    orientations = (6, 1, 8, 3)
    out = []
    for n in range(count):
        letter = L.LETTERS[n % len(L.LETTERS)]
        if n % 2 == 0:
            kind = "photo printed"
            page, text = L.render_letter(letter, (64, 52, 58)[n // 2 % 3], serif=n % 4 == 2,
                                         size=(2480, 3508))
        else:
            kind = "photo handwriting"
            page, text = L.render_handwriting(letter, (68, 60)[n // 2 % 2], size=(2480, 3508),
                                              seed=n)
        path = folder / f"photo{n}.jpg"
        path.write_bytes(L.phone_photo(page, seed=n, orientation=orientations[n % 4]))
        out.append((kind, path, text))
    return out


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=20, help="pages to recognise")
    parser.add_argument("--photos", type=int, default=4, help="12 MP phone photos to read")
    parser.add_argument("--pdf-pages", type=int, default=5, help="pages in the PDF to rasterise")
    parser.add_argument("--dpi", type=int, default=200, help="PDF rasterisation resolution")
    args = parser.parse_args(argv)
    if not L.font_available():
        print(L.FONT_MISSING, file=sys.stderr)
        return 2

    print(f"OCR pages: intake.ocr, {args.pages} pages of 1240 x 1754 px")
    print(f"  Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"onnxruntime intra-op threads {ocr.THREADS}")
    print(f"  {load()}")
    print(f"  RSS after imports:        {memory()}")

    engine = ocr.OcrEngine()
    start, cpu = time.perf_counter(), time.process_time()
    engine.load()
    print(f"  model load:                {time.perf_counter() - start:7.2f} s  "
          f"cpu {time.process_time() - cpu:.2f} s")
    warm = Image.new("RGB", (900, 200), "white")
    ImageDraw.Draw(warm).text((40, 70), "巡视组：反映问题 2026年3月5日", font=L.load_font(36),
                              fill="black")
    start = time.perf_counter()
    engine.read_image(warm)
    print(f"  first page (one line):     {time.perf_counter() - start:7.2f} s")
    print(f"  RSS after model load:     {memory()}")

    letters = L.LETTERS
    sizes = (32, 30, 34, 28, 36, 32)
    seconds: list[float] = []
    by_kind: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    wall = time.perf_counter()
    for n in range(args.pages):
        kind, degrade = KINDS[n % len(KINDS)]
        i = n % len(letters)
        page, expected = L.render_letter(letters[i], sizes[i], serif=i % 2 == 1)
        page = degrade(page)
        cpu = time.process_time()
        result = engine.read_image(page)
        cpu = time.process_time() - cpu
        seconds.append(result.seconds)
        by_kind[kind].append((result.seconds, L.char_accuracy(expected, result.text), cpu))
    wall = time.perf_counter() - wall

    print()
    print(f"OCR seconds per page ({len(seconds)} pages, {wall:.1f} s including rendering)")
    print(f"  all pages     {spread(seconds)}")
    for kind, _ in KINDS:
        rows = by_kind.get(kind)
        if rows:
            secs = statistics.fmean(s for s, _, _ in rows)
            cpu = statistics.fmean(c for _, _, c in rows)
            acc = statistics.fmean(a for _, a, _ in rows)
            print(f"  {kind:<13} {len(rows):>2} pages  mean {secs:.3f} s  cpu {cpu:.3f} s  "
                  f"accuracy {acc:.4f}")
    print(f"  cpu seconds per page (user+sys, all threads): "
          f"{statistics.fmean(c for rows in by_kind.values() for _, _, c in rows):.3f}")
    accuracies = [a for rows in by_kind.values() for _, a, _ in rows]
    print(f"  mean character accuracy {statistics.fmean(accuracies):.4f}")
    printed = list(accuracies)

    layouts: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for kind, page, expected in layout_pages():
        cpu = time.process_time()
        result = engine.read_image(page)
        cpu = time.process_time() - cpu
        layouts[kind].append((result.seconds, L.char_accuracy(expected, result.text), cpu))
    print(f"  RSS before rendering the photos: {memory()}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, path, expected in photo_files(Path(tmp), args.photos):
            start, cpu = time.perf_counter(), time.process_time()
            result = engine.read_image(ocr.open_page_image(path))
            layouts[kind].append((time.perf_counter() - start,
                                  L.char_accuracy(expected, result.text),
                                  time.process_time() - cpu))
    print()
    print("Layouts and phone photos (12 MP JPEG with EXIF orientation, seconds from the file)")
    for kind, rows in layouts.items():
        secs = statistics.fmean(s for s, _, _ in rows)
        cpu = statistics.fmean(c for _, _, c in rows)
        acc = statistics.fmean(a for _, a, _ in rows)
        print(f"  {kind:<17} {len(rows):>2} pages  mean {secs:.3f} s  max "
              f"{max(s for s, _, _ in rows):.3f} s  cpu {cpu:.3f} s  accuracy {acc:.4f}")
    goal = printed + [a for kind in ("screen", "two columns") for _, a, _ in layouts[kind]]
    print(f"  mean character accuracy over printed, screen and two-column pages "
          f"({len(goal)} pages): {statistics.fmean(goal):.4f}")
    print(f"  {load()}")

    big_page, big_text = L.render_letter(letters[0], 64, size=(2480, 3508))
    big = engine.read_image(big_page)
    del big_page
    print(f"  300 dpi scan  2480 x 3508   {big.seconds:.3f} s  "
          f"accuracy {L.char_accuracy(big_text, big.text):.4f}")

    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "letters.pdf"
        pages = [L.render_letter(letters[i % len(letters)], 32)[0]
                 for i in range(args.pdf_pages)]
        pages[0].save(pdf, save_all=True, append_images=pages[1:], resolution=150)
        del pages
        render: list[float] = []
        size = (0, 0)
        for page_no in range(1, ocr.pdf_page_count(pdf) + 1):
            start = time.perf_counter()
            size = ocr.render_pdf_page(pdf, page_no, dpi=args.dpi).size
            render.append(time.perf_counter() - start)
    print()
    print(f"PDF rasterisation seconds per page ({len(render)} pages, {args.dpi} dpi, "
          f"{size[0]} x {size[1]} px)")
    print(f"  {spread(render)}")
    print()
    print(f"RSS after the run: {memory()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
