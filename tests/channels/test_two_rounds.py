"""Two teams' rounds open at once in one `intake serve`, as `make run` starts it with
INTAKE_ROUND naming both example files: the home page offers both, a report through the web
form (real Chromium), the API and e-mail each lands in the round it was sent to, a report that
names no round is refused while several are open, and unknown mailboxes still get 550."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.channels.conftest import CHROMIUM
from tests.channels.test_serve import free_port
from tests.support import REPO, stop_service

A_SLUG, B_SLUG = "qingshanzhen-2026-03", "baishi-yunling-2026-2"
A_FILE = REPO / "config" / "round.example.yaml"
B_FILE = REPO / "config" / "round.second.example.yaml"
WEB_B = "白石镇松坪村党支部书记秦大山把村道硬化工程包给了他小舅子，工程款比别村多出一倍。"
API_A = "青山镇财政所所长郑国平把扶贫资金借给亲戚做生意，至今没有归还。"
API_B = "云岭乡上塘村党支部书记潘长贵侵占集体鱼塘承包款，村务从来不公开。"
MAIL_A = "东岭村党支部书记刘德福把低保名额给了自己的亲戚。"
MAIL_B = "云岭乡纪委书记汪建平接受宴请，收了老板两万块钱的购物卡。"


@dataclass
class Service:
    base: str
    smtp_port: int
    env: dict[str, str]
    out: Path

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "intake.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=120, check=True)
        return done.stdout

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"{self.base}{path}", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"{self.base}{path}", timeout=30) as r:
            return r.read().decode()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    port, smtp_port = free_port(), free_port()
    env = {**os.environ, "INTAKE_DATA_DIR": str(tmp_path / "instance"),
           "INTAKE_HTTP_PORT": str(port), "INTAKE_SMTP_PORT": str(smtp_port),
           "INTAKE_ROUND": f"{A_FILE}{os.pathsep}{B_FILE}", "INTAKE_OCR_WORKERS": "0",
           "PYTHONPATH": str(REPO)}
    for name in ("INTAKE_DATABASE_URL", "INTAKE_SETTINGS", "INTAKE_SMTP_EXTRA_MAILBOXES"):
        env.pop(name, None)
    out = tmp_path / "serve.out"
    with out.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "intake.cli", "serve"], env=env,
                                stdout=sink, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(out.read_text()) from None
                time.sleep(0.1)
        else:
            raise AssertionError("the service did not become ready: " + out.read_text())
        yield Service(base, smtp_port, env, out)
    finally:
        stop_service(proc)


def send(service: Service, to: str, body: str, sender: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "反映问题"
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", service.smtp_port, timeout=30) as client:
        client.send_message(msg)


def test_two_rounds_in_one_service(service: Service) -> None:
    # The start banner lists both rounds, each with its pages and mailbox.
    banner = service.out.read_text()
    for slug, box in ((A_SLUG, "xcz1@intake.example.cn"), (B_SLUG, "xcz2@intake.example.cn")):
        assert f"{service.base}/r/{slug}/" in banner and box in banner, banner

    home = service.get("/")
    assert "目前有 2 个巡察组正在开展巡察" in home
    assert "县委第一巡察组：中共青山镇委员会" in home
    assert "县委第二巡察组：中共白石镇委员会、中共云岭乡委员会" in home

    rounds = json.loads(service.get("/api/v1/rounds"))["rounds"]
    assert {r["slug"] for r in rounds} == {A_SLUG, B_SLUG}

    assert service.post("/api/v1/reports", {"text": API_A, "password": "report-2026",
                                            "round": A_SLUG})[0] == 201
    assert service.post("/api/v1/reports", {"text": API_B, "password": "report-2026",
                                            "round": B_SLUG})[0] == 201
    status, body = service.post("/api/v1/reports", {"text": API_A, "password": "report-2026"})
    assert status == 400 and body["error"]["field"] == "round", body

    send(service, "xcz1@intake.example.cn", MAIL_A, "villager-a@example.com")
    send(service, "xcz2@intake.example.cn", MAIL_B, "villager-b@example.com")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(service, "xcz3@intake.example.cn", MAIL_A, "villager-c@example.com")
    assert [code for code, _ in refused.value.recipients.values()] == [550]

    listed = [json.loads(line) for line in service.cli("rounds", "list").splitlines()]
    assert {(r["slug"], r["team"], r["state"]) for r in listed} == {
        (A_SLUG, "县委第一巡察组", "open"), (B_SLUG, "县委第二巡察组", "open")}

    exported = [json.loads(line) for line in
                service.cli("export", "--format", "jsonl").splitlines() if line.strip()]
    where = {row["text"].strip(): row["round"] for row in exported}
    assert where == {API_A: A_SLUG, API_B: B_SLUG, MAIL_A: A_SLUG, MAIL_B: B_SLUG}, where


@pytest.mark.browser
def test_a_report_through_the_second_rounds_pages(service: Service, chromium: Any) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import expect

    context = chromium.new_context(base_url=service.base, locale="zh-CN",
                                   timezone_id="Asia/Shanghai")
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto("/")
        expect(page.get_by_role("heading", name="巡察信访举报受理")).to_be_visible()
        page.get_by_role("link", name="向县委第二巡察组反映").click()
        page.wait_for_url(f"**/r/{B_SLUG}/report")
        expect(page.get_by_role("heading", name="我要反映问题")).to_be_visible()
        text = page.locator("#text")
        text.click()
        expect(text).to_be_focused()
        text.fill(WEB_B)
        page.get_by_label("查询密码").fill("songping-2026")
        page.get_by_role("button", name="提交").click()
        expect(page.get_by_role("heading", name="已收到您反映的问题")).to_be_visible()
    finally:
        context.close()
    exported = [json.loads(line) for line in
                service.cli("export", "--format", "jsonl").splitlines() if line.strip()]
    assert [(row["channel"], row["round"]) for row in exported] == [("web", B_SLUG)]
