"""OCR start-up and memory of a long-running worker (`intake.ocr`, as `intake.ocrworker` runs it).

    .venv/bin/python bench/ocr_memory.py [--pages 20]

First the model load: how many onnxruntime sessions are created, the seconds it takes
(wall and CPU) and the resident memory (VmRSS) before and after. Then --pages mixed pages
are written to files first (150 dpi letters, a 300 dpi scan, 12 MP phone photos as JPEG
with an EXIF orientation, two-column, vertical and handwriting-style pages) and read one
after another in one thread, as an OCR worker thread reads them: `open_page_image` from
the file, then `read_image`. The resident memory (VmRSS, what the process holds now) and
its peak (VmHWM) are printed after every few pages and at the end: the figure that must
stay bounded is VmRSS after the run, not the peak of one large page.

Needs the Debian package fonts-noto-cjk; runs offline.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import onnxruntime  # noqa: E402

from intake import ocr  # noqa: E402
from tests import ocr_letters as L  # noqa: E402


def status_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory() -> str:
    return f"RSS {status_mib('VmRSS'):7.1f} MiB  peak {status_mib('VmHWM'):7.1f} MiB"


def reset_peak() -> None:
    """Start VmHWM again from the current VmRSS (Linux: clear_refs 5)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def count_sessions() -> list[str]:
    """Record the model path of every onnxruntime session created from now on."""
    created: list[str] = []
    init = onnxruntime.InferenceSession.__init__

    def counting(self: onnxruntime.InferenceSession, path: object, *args: object,
                 **kwargs: object) -> None:
        created.append(Path(str(path)).name)
        init(self, path, *args, **kwargs)  # type: ignore[arg-type]

    onnxruntime.InferenceSession.__init__ = counting  # type: ignore[method-assign]
    return created


def write_pages(folder: Path, count: int) -> list[tuple[str, Path]]:
    """(kind, file) for `count` pages of mixed kinds, written to `folder`."""
    letters = L.LETTERS
    out: list[tuple[str, Path]] = []
    for n in range(count):
        letter = letters[n % len(letters)]
        kind = ("letter", "photo printed", "two columns", "vertical", "scan 300 dpi",
                "photo handwriting", "handwriting")[n % 7]
        if kind == "letter":
            page = L.jpeg(L.render_letter(letter, 32, serif=n % 2 == 1)[0], 60)
        elif kind == "two columns":
            page = L.render_columns(letter, letters[(n + 1) % len(letters)], 26)[0]
        elif kind == "vertical":
            page = L.render_vertical(letter, 40, handwriting=n % 2 == 0)[0]
        elif kind == "scan 300 dpi":
            page = L.render_letter(letter, 64, size=(2480, 3508))[0]
        elif kind == "handwriting":
            page = L.render_handwriting(letter, 34, seed=n)[0]
        else:
            if kind == "photo printed":
                big = L.render_letter(letter, 60, size=(2480, 3508))[0]
            else:
                big = L.render_handwriting(letter, 64, size=(2480, 3508), seed=n)[0]
            path = folder / f"page{n}.jpg"
            path.write_bytes(L.phone_photo(big, seed=n, orientation=(6, 1, 8, 3)[n % 4]))
            out.append((kind, path))
            continue
        path = folder / f"page{n}.png"
        page.save(path)
        out.append((kind, path))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=20, help="mixed pages to read")
    args = parser.parse_args(argv)
    if not L.font_available():
        print(L.FONT_MISSING, file=sys.stderr)
        return 2
    one, five, _ = os.getloadavg()
    print(f"OCR start-up and worker memory: {args.pages} mixed pages, "
          f"load average {one:.2f} {five:.2f} on {os.cpu_count()} CPUs")
    print(f"  after imports:      {memory()}")

    created = count_sessions()
    engine = ocr.OcrEngine()
    start, cpu = time.perf_counter(), time.process_time()
    engine.load()
    print(f"  model load:         {time.perf_counter() - start:.2f} s  "
          f"cpu {time.process_time() - cpu:.2f} s  sessions created {len(created)} "
          f"({', '.join(sorted(created))})")
    print(f"  after model load:   {memory()}")

    with tempfile.TemporaryDirectory() as tmp:
        pages = write_pages(Path(tmp), args.pages)
        print(f"  pages written:      {memory()}  (the peak is the test pages' rendering)")
        reset_peak()
        print(f"  peak reset:         {memory()}")
        report: list[str] = []

        def work() -> None:  # one worker thread, as intake.ocrworker runs
            for n, (kind, path) in enumerate(pages, start=1):
                start, cpu = time.perf_counter(), time.process_time()
                engine.read_image(ocr.open_page_image(path))
                report.append(f"  page {n:>2} {kind:<18} {time.perf_counter() - start:5.2f} s  "
                              f"cpu {time.process_time() - cpu:5.2f} s  {memory()}")

        thread = threading.Thread(target=work, name="ocr-1")
        thread.start()
        thread.join()
        print("\n".join(report))
    print(f"  after {args.pages} pages:     {memory()}  "
          f"sessions created {len(created)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
