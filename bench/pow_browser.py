"""How long the public form's proof of work takes in a real Chromium, at each difficulty.

    .venv/bin/python bench/pow_browser.py [--throttle 1 4 6] [--hashes 65536]

Serves a blank page with handlers/web/static/pow.js on 127.0.0.1 (WebCrypto needs a secure
context), loads the system Chromium, and times `--hashes` SHA-256 digests computed the two ways
pow.js computes them: WebCrypto (batches of 1024 `crypto.subtle.digest` promises) and, as over
plain HTTP where browsers hide `crypto.subtle`, its own JavaScript SHA-256 (the same digester
and 40 ms slices). The CPU is slowed by each `--throttle` factor through the DevTools protocol
(Lighthouse takes 4x for a mid-range phone; 6x stands for a cheap one). It prints the digest
rate and, for difficulties from 12 to 18 bits, the expected time (2^bits digests) and the 95th
percentile (3 x 2^bits: the number of tries is geometric).
"""

from __future__ import annotations

import argparse
import http.server
import threading
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "handlers" / "web" / "static"
CHROMIUM = Path("/usr/bin/chromium")
MEASURE = """async (count) => {
  const encoder = new TextEncoder();
  const prefix = "v1.16.1900000000.00112233445566778899aabbccddeeff.0123456789abcdef:";
  const started = performance.now();
  for (let start = 0; start < count; start += 1024) {
    const jobs = [];
    for (let i = start; i < start + 1024; i++) {
      jobs.push(crypto.subtle.digest("SHA-256", encoder.encode(prefix + i)));
    }
    await Promise.all(jobs);
  }
  return (performance.now() - started) / 1000;
}"""
# The loop of pow.js's solvePlain, with no nonce ever good enough.
MEASURE_PLAIN = """async (count) => {
  const prefix = "v1.16.1900000000.00112233445566778899aabbccddeeff.0123456789abcdef:";
  const next = window.powSha256.digester(new TextEncoder().encode(prefix));
  const started = performance.now();
  for (let nonce = 0; nonce < count;) {
    const until = Date.now() + 40;
    do {
      const words = next(String(nonce));
      if (words[0] === 0 && words[1] === 0) { throw new Error("a 64-bit answer"); }
      nonce++;
    } while ((nonce % 256 || Date.now() < until) && nonce < count);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return (performance.now() - started) / 1000;
}"""


class Blank(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/pow.js":
            body, kind = (STATIC / "pow.js").read_bytes(), "text/javascript"
        else:
            body, kind = b'<!doctype html><title>pow</title><script src="/pow.js"></script>', \
                "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--throttle", type=float, nargs="+", default=[1, 4, 6])
    parser.add_argument("--hashes", type=int, default=65536)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blank)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        for rate in args.throttle:
            for name, measure in (("WebCrypto", MEASURE), ("JS SHA-256", MEASURE_PLAIN)):
                page = browser.new_page()
                page.goto(url)
                cdp = page.context.new_cdp_session(page)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
                page.evaluate(measure, 4096)  # warm up
                seconds = page.evaluate(measure, args.hashes)
                per_second = args.hashes / seconds
                times = "  ".join(
                    f"{bits}b {2**bits / per_second:5.1f}s/{3 * 2**bits / per_second:5.1f}s"
                    for bits in (12, 14, 15, 16, 18))
                print(f"CPU x{rate:g} {name:>10}: {per_second:9,.0f} digests/s   "
                      f"mean/p95: {times}")
                page.close()
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
