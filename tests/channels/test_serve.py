"""`intake serve` as `make run` starts it: a real process, real port, embedded defaults."""

from __future__ import annotations

import json
import os
import re
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_on_defaults_and_prints_where_to_go(tmp_path: Path) -> None:
    port, smtp_port = free_port(), free_port()
    data = tmp_path / "instance"
    env = {**os.environ, "INTAKE_DATA_DIR": str(data), "INTAKE_HTTP_PORT": str(port),
           "INTAKE_SMTP_PORT": str(smtp_port)}
    env.pop("INTAKE_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "intake.cli", "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                    assert json.load(r) == {"status": "ok"}
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("service did not become ready")
        with urllib.request.urlopen(f"{base}/", timeout=5) as r:
            assert "中共青山镇委员会" in r.read().decode()
        assert (data / "intake.db").exists() and (data / "keys" / "master.key").exists()
        assert (data / "tmp").stat().st_mode & 0o777 == 0o700
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
            client.sendmail("zhang@example.com", ["xcz1@intake.example.cn"],
                            "Subject: test\r\n\r\n反映问题".encode())
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"{base}/staff/" in out
    assert f"smtp://127.0.0.1:{smtp_port}" in out
    password = re.search(r"一次性密码 (\S+)", out)
    assert password, out
    from intake.desk import open_desk
    from intake.settings import Settings
    from intake.staff import authenticate

    desk = open_desk(Settings(data_dir=data))
    try:
        assert authenticate(desk, "admin", password.group(1)) is not None
    finally:
        desk.close()
