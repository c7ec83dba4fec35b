"""`intake serve` and `intake smtp`: the service in the foreground, as `make run` starts it."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import tempfile
import threading
from collections.abc import Callable

from handlers.httpserver import http_server
from handlers.smtp import MailServer
from handlers.web import create_app
from intake.atrest import sweep_at_start
from intake.desk import Desk, open_desk
from intake.digest import DigestWorker
from intake.mail import accepted_mailboxes
from intake.ocrworker import OcrWorker
from intake.outbox import OutboxSender
from intake.retention import RetentionWorker
from intake.settings import Settings
from intake.staff import ensure_first_admin

log = logging.getLogger(__name__)
SHUTDOWN_SECONDS = 15  # for all the stop steps together, after SIGTERM or Ctrl-C


def _private_temporary_files(desk: Desk) -> None:
    """Keep request spools (large bodies, uploads) inside the data folder, not a shared /tmp,
    and sweep what a crash left there and in the attachment store.

    Werkzeug writes big request bodies to temporary files while a request is handled; those
    hold what a reporter sent, so they belong where the service's data lives (mode 0700).
    """
    data_dir = desk.settings.data_dir
    with desk.sessions() as session:
        sweep_at_start(data_dir, session)
    private = data_dir / "tmp"
    private.mkdir(mode=0o700, exist_ok=True)
    tempfile.tempdir = str(private)


def _start_mail(desk: Desk) -> tuple[MailServer, OutboxSender]:
    sender = OutboxSender(desk)
    sender.start()
    server = MailServer(desk, on_stored=sender.wake.set)
    server.start()
    return server, sender


def _mail_lines(desk: Desk, sender: OutboxSender) -> list[str]:
    s = desk.settings
    relay = (f"经 {s.mail_relay_host}:{s.mail_relay_port} 发送自动回复" if sender.configured
             else "未配置发信中继（mail_relay_host），自动回复暂存待发")
    boxes = "、".join(sorted(accepted_mailboxes(desk))) or "（无）"
    return [
        f"  电子邮件接收   smtp://{s.smtp_host}:{s.smtp_port}  收件地址 {boxes}",
        f"  自动回复       {relay}",
    ]


def _round_lines(desk: Desk, base: str) -> list[str]:
    """Every open round with its public pages and mailbox (else the newest one, as it is)."""
    entries = desk.rounds.open()
    if not entries:
        newest = desk.rounds.newest()
        last = f"（最近一轮：{newest.cfg.name}，{newest.state_name}）" if newest else ""
        return [f"  目前没有受理中的轮次{last}"]
    lines = [f"  受理中的轮次   {len(entries)} 个"]
    for e in entries:
        lines += [f"    {e.team}：{e.cfg.name}",
                  f"      公众页面 {base}/r/{e.slug}/   邮箱 {e.cfg.mailbox or '（未设）'}"]
    return lines


def serve(settings: Settings) -> int:
    """Open the desk, make sure an administrator exists, serve web and SMTP until interrupted."""
    desk = open_desk(settings)
    _private_temporary_files(desk)
    password = ensure_first_admin(desk)
    app = create_app(settings, desk=desk)
    mail_server, sender = _start_mail(desk)
    ocr_worker = OcrWorker(desk)
    ocr_worker.start()
    app.extensions["ocr_worker"] = ocr_worker  # an upload wakes it
    app.extensions["letters_copies"] = ocr_worker.copies  # one set of decrypted copies
    retention = RetentionWorker(desk)  # the retention rule: at start, then daily
    retention.start()
    digests = DigestWorker(desk)  # the daily digest mail, when a relay and recipients are set
    digests.start()
    base = f"http://{settings.http_host}:{settings.http_port}"
    lines = [
        "",
        "  巡察组受理服务已启动",
        *_round_lines(desk, base),
        f"  公众反映页面   {base}/",
        f"  工作人员受理台 {base}/staff/",
        f"  健康检查       {base}/healthz",
        *_mail_lines(desk, sender),
        f"  信件扫描识别   后台 {settings.ocr_workers} 个线程（离线 OCR）",
        f"  数据目录       {settings.data_dir.resolve()}",
    ]
    if password:
        team = next((e.team for e in desk.rounds.open()), "组名")
        lines += [
            "",
            f"  已创建首个管理员：用户名 admin，一次性密码 {password}",
            "  （只显示这一次；首次登录须修改密码。管理员管账号和轮次，不看具体反映件。）",
            "  组长账号（可查看举报人身份）只在服务器上创建，例如：",
            f"    .venv/bin/intake users add zuzhang --role team_leader --team {team}",
            f"  研判员、值班员由组长在「账号」页创建，或：intake users add NAME --role triager"
            f" --team {team}",
        ]
    # The application refuses bodies per path (handlers.web.bodylimit); the server's own limit
    # is only a backstop behind it.
    server = http_server(app, settings.http_host, settings.http_port,
                         threads=settings.http_threads,
                         max_body=max(settings.max_request_bytes,
                                      settings.scan_max_batch_bytes) + 1024 * 1024)
    # Ctrl-C and SIGTERM only set an event: the server runs in its own thread and is stopped
    # from here, never by an exception raised wherever the signal happened to land.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server.prepare()
        serving = threading.Thread(target=server.serve, name="http", daemon=True)
        serving.start()
        print("\n".join(lines) + "\n", flush=True)
        while not stop.wait(1) and serving.is_alive():
            pass
    finally:
        _shut_down([
            ("web server", server.stop),  # workers finish their request
            ("OCR workers", ocr_worker.stop),  # ... and their page
            ("mail server", mail_server.stop),
            ("outbox", sender.stop),
            ("retention", retention.stop),  # between two batches of a purge
            ("digest", digests.stop),
            ("database", desk.close),
        ])
    return 0


def _shut_down(steps: list[tuple[str, Callable[[], object]]]) -> None:
    """Run the stop steps in order, within SHUTDOWN_SECONDS in all: a step that hangs (a thread
    that never joins) must not keep the process alive after SIGTERM. Everything taken in was
    committed before it was acknowledged, so leaving then loses nothing; where it was stuck is
    logged, with every thread's stack, for whoever looks into it."""
    current = ["start"]

    def run() -> None:
        for name, step in steps:
            current[0] = name
            step()

    stopping = threading.Thread(target=run, name="shutdown", daemon=True)
    stopping.start()
    stopping.join(SHUTDOWN_SECONDS)
    if stopping.is_alive():
        log.warning("shutdown stuck at the %s after %s s; leaving now", current[0],
                    SHUTDOWN_SECONDS)
        faulthandler.dump_traceback(all_threads=True)
        logging.shutdown()
        os._exit(0)


def serve_mail(settings: Settings) -> int:
    """`intake smtp`: only the e-mail channel (and the outbox), until SIGINT or SIGTERM."""
    desk = open_desk(settings)
    _private_temporary_files(desk)
    mail_server, sender = _start_mail(desk)
    print("\n".join(["", "  巡察组邮件接收已启动", *_mail_lines(desk, sender), ""]),
          flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        mail_server.stop()
        sender.stop()
        desk.close()
    return 0
