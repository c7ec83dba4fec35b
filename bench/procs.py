"""What the benchmarks share: free ports, a clean environment, reading, timing and stopping a
server process (Linux /proc), and in-process throughput. Imported by the scripts beside it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    """This environment without INTAKE_* settings or a Redis URL that could change the service."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("INTAKE_") and k != "REDIS_URL"}


def log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far, else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss(pid: int) -> int | None:
    """A process's peak resident memory (VmHWM) in bytes, else None."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) * 1024 if match else None


def stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Terminate a server, and kill it if it does not go."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def items_per_second(fn: Callable[[str], object], texts: Sequence[str], total: int = 3000) -> float:
    """Calls of `fn` per second over `texts`, repeated to about `total` calls, in this process."""
    rounds = max(1, total // len(texts))
    start = time.perf_counter()
    for _ in range(rounds):
        for t in texts:
            fn(t)
    return rounds * len(texts) / (time.perf_counter() - start)
