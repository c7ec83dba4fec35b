"""No identity in any log: the real `intake serve` at its most verbose, every channel used with
known identity strings, then its output and every log file grepped for them."""

from __future__ import annotations

import http.cookiejar
import json
import re
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from intake import pow
from intake.appointments import create_slot
from intake.clients import create_client
from intake.desk import open_desk
from intake.duty import create_device
from intake.logs import configure_logging, mask
from intake.settings import Settings
from tests.channels.test_serve import free_port
from tests.support import stop_service

NAME = "欧阳明远"
PHONE = "13912345678"
ID_NUMBER = "110101199003071234"
EMAIL = "ouyang.mingyuan@example.com"
ADDRESS = "东岭村三组十八号"
CALLER = "司马青云"
CALLER_PHONE = "13687654321"
PASSWORDS = ["ouyang-pass-1", "ouyang-pass-2", "ouyang-pass-3", "ouyang-pass-4"]
TEXT = f"本人{NAME}，电话{PHONE}，身份证号{ID_NUMBER}，邮箱{EMAIL}。东岭村支书刘德福截留低保金。"


class Browser:
    """Just enough of a browser: cookies, CSRF tokens from the page, form posts."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as r:
            return r.read().decode()

    def post(self, path: str, form: dict[str, str], token_from: str) -> tuple[int, str]:
        page = self.get(token_from)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, token_from
        data = urllib.parse.urlencode({**form, "csrf_token": token.group(1)}).encode()
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def call(base: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         method: str = "POST") -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def solved(base: str) -> dict[str, str]:
    _, body = call(base, "/api/v1/challenge", method="GET")
    if not body["challenge"]:
        return {}
    return {"pow_challenge": body["challenge"],
            "pow_nonce": pow.solve(body["challenge"], body["bits"])}


def receipt_code(html: str) -> str:
    found = re.search(r'id="query-code">([\d ]+)<', html)
    assert found, html[:2000]
    return found.group(1).replace(" ", "")


def test_no_identity_code_or_password_in_any_log(tmp_path: Path) -> None:
    port, smtp_port = free_port(), free_port()
    data = tmp_path / "instance"
    env = {"INTAKE_DATA_DIR": str(data), "INTAKE_HTTP_PORT": str(port),
           "INTAKE_SMTP_PORT": str(smtp_port), "INTAKE_LOG_LEVEL": "DEBUG",
           "INTAKE_CODE_ATTEMPT_LIMIT": "4 per day", "INTAKE_POW_THRESHOLD": "2",
           "INTAKE_POW_MIN_BITS": "4", "INTAKE_POW_MAX_BITS": "4", "INTAKE_OCR_WORKERS": "0",
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "intake.cli", "serve"], env=env,
                                stdout=out, stderr=err, cwd=Path(__file__).parents[2])
    base = f"http://127.0.0.1:{port}"
    secrets: list[str] = [NAME, PHONE, ID_NUMBER, EMAIL, "ouyang.mingyuan", ADDRESS, CALLER,
                          CALLER_PHONE, *PASSWORDS]
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("service did not become ready: " + stderr.read_text())
        desk = open_desk(Settings(data_dir=data))
        try:
            device = create_device(desk, "呼叫中心", actor_id=None, actor_label="test")
            client_token = create_client(desk, "码上巡察", actor_label="test")
            start = datetime.now(UTC) + timedelta(days=2)
            slot = create_slot(desk, start, start + timedelta(minutes=30), "巡察组谈话室",
                               staff_id=None)
        finally:
            desk.close()
        secrets += [device, client_token]
        web = Browser(base)
        identity = {"anonymous": "false", "reporter_name": NAME, "reporter_phone": PHONE,
                    "reporter_id_number": ID_NUMBER, "reporter_address": ADDRESS}

        # 1. a named web report
        status, html = web.post("/report", {"text": TEXT, "password": PASSWORDS[0],
                                            **identity}, token_from="/report")
        assert status == 200, html[:500]
        web_code = receipt_code(html)
        # 2. a named API report
        status, body = call(base, "/api/v1/reports", {"text": TEXT, "password": PASSWORDS[1],
                                                      **identity})
        assert status == 201, body
        api_code = body["code"]
        # 3. past the threshold: the API asks for work, the solved challenge goes through
        status, body = call(base, "/api/v1/reports", {"text": TEXT, "password": PASSWORDS[1]})
        assert status == 429 and body["error"]["code"] == "work_required"
        status, body = call(base, "/api/v1/reports", {"text": TEXT, "password": PASSWORDS[1]},
                            {"X-Pow-Challenge": body["challenge"],
                             "X-Pow-Nonce": pow.solve(body["challenge"], body["bits"])})
        assert status == 201
        secrets.append(body["code"])
        # 4. a trusted client's report, and a bad token
        status, body = call(base, "/api/v1/reports", {"text": TEXT, "password": PASSWORDS[2],
                                                      **identity},
                            {"Authorization": f"Bearer {client_token}"})
        assert status == 201, body
        secrets.append(body["code"])
        assert call(base, "/api/v1/reports", {"text": TEXT, "password": PASSWORDS[2]},
                    {"Authorization": "Bearer xczapi_wrong"})[0] == 401
        # 5. status look-ups and follow-ups, API and web, then guesses until the code is limited
        ok = {"password": PASSWORDS[1]}
        assert call(base, f"/api/v1/reports/{api_code}/status", ok)[0] == 200
        assert call(base, f"/api/v1/reports/{api_code}/messages",
                    {**ok, "text": f"补充：{NAME}的电话是{PHONE}"})[0] == 201
        statuses = [call(base, f"/api/v1/reports/{api_code}/status",
                         {"password": "wrong-guess"})[0] for _ in range(3)]
        assert statuses == [404, 404, 429]
        status, html = web.post("/status", {"code": web_code, "password": PASSWORDS[0]},
                                token_from="/status")
        assert status == 200 and "已收到" in html
        status, html = web.post("/status/case/message", {"text": f"补充：{EMAIL}"},
                                token_from="/status/case")
        assert status == 200 and "补充内容已提交" in html
        secrets += [web_code, api_code]
        # 6. an e-mail through real smtplib
        mail = EmailMessage()
        mail["From"] = f"{NAME} <{EMAIL}>"
        mail["To"] = "xcz1@intake.example.cn"
        mail["Subject"] = f"{NAME}反映刘德福截留低保金"
        mail.set_content(TEXT)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            smtp.set_debuglevel(0)
            smtp.send_message(mail)
        # 7. a hotline call pushed by the call centre (the desk log)
        status, body = call(base, "/api/v1/desk/calls", {
            "call_id": "c-1", "started_at": datetime.now(UTC).isoformat(), "anonymous": False,
            "caller_name": CALLER, "caller_number": CALLER_PHONE, "text": TEXT},
            {"Authorization": f"Bearer {device}"})
        assert status == 201, body
        secrets += [body["code"], body["password"]]
        # 8. an appointment request (the address is busy by now: the form carries the work)
        status, html = web.post("/appointment", {
            "slot": str(slot), "text": TEXT, "password": PASSWORDS[3], "anonymous": "false",
            "reporter_name": NAME, "reporter_phone": PHONE, **solved(base)},
            token_from="/appointment")
        assert status == 200, html[:500]
        secrets.append(receipt_code(html))
        # and a request that fails inside a path carrying a code-like number
        assert call(base, "/api/v1/reports/1234567890123456/status", {"password": "x"})[0] == 404
    finally:
        stop_service(proc)
    logs = {"stdout": stdout.read_text(), "stderr": stderr.read_text()}
    for path in data.rglob("*.log"):
        logs[str(path)] = path.read_text(errors="replace")
    everything = "\n".join(logs.values())
    # it did log, at DEBUG, from every channel
    assert "DEBUG handlers.web.access POST /api/v1/reports/<code>/status 404" in everything
    assert re.search(r"INFO intake.pipeline ingested item \d+ via email", everything)
    assert re.search(r"INFO intake.pipeline ingested item \d+ via hotline", everything)
    assert "asked for proof of work" in everything
    leaked = {s: [name for name, text in logs.items() if s in text] for s in secrets}
    assert {s: where for s, where in leaked.items() if where} == {}


def test_library_loggers_are_capped_and_lines_masked(capsys: Any) -> None:
    import logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("DEBUG")
    try:
        logging.getLogger("mail.log").info("sender: %s", EMAIL)
        logging.getLogger("flask_limiter").info("ratelimit exceeded (code:%s)", "1" * 16)
        logging.getLogger("some.library").info("anything from %s", NAME)
        logging.getLogger("intake.x").debug("item 42 looked up")
        logging.getLogger("intake.x").error("refused %s / %s / %s", PHONE, ID_NUMBER,
                                            "1234 5678 9012 3456")
        try:
            raise ValueError(f"bad address {EMAIL}")
        except ValueError:
            logging.getLogger("handlers.y").exception("failed")
    finally:
        configure_logging("INFO")
        root.handlers[:] = saved[0]  # give pytest its own handlers back
        root.setLevel(saved[1])
    err = capsys.readouterr().err
    assert "item 42 looked up" in err and "refused" in err and "ValueError" in err
    for secret in (EMAIL, "1" * 16, NAME, PHONE, ID_NUMBER, "1234 5678"):
        assert secret not in err
    assert mask("第 12 件，2026-03-05 09:30") == "第 12 件，2026-03-05 09:30"
