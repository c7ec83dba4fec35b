"""Render the 统计 page of a sample round to docs/images/statistics.png, for the README.

The items are invented: about sixty reports to the example round (青山镇) over three weeks, by
every channel, about its villages' invented cadres, some accepted as leads, transferred or
closed. They go through the real intake (classification included) into a temporary data
folder; the page is served as `intake serve` serves it and photographed by the system's
headless Chromium, signed in as the team leader.

    .venv/bin/python scripts/render_stats_image.py [OUT.png]
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from handlers.httpserver import bound_port, http_server  # noqa: E402
from handlers.web import create_app  # noqa: E402
from intake import leads  # noqa: E402
from intake.desk import Desk, open_desk  # noqa: E402
from intake.pipeline import ingest  # noqa: E402
from intake.settings import Settings  # noqa: E402
from intake.staff import create_user  # noqa: E402
from intake.store import models as m  # noqa: E402
from intake.submission import Submission  # noqa: E402
from intake.triage import Actor  # noqa: E402

OUT = ROOT / "docs" / "images" / "statistics.png"
BEIJING = timezone(timedelta(hours=8))
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "render-password-1"  # noqa: S105 (a throwaway account of a temporary folder)
CHANNELS = (("web", 9), ("hotline", 5), ("email", 3), ("letter", 3), ("box", 2), ("visit", 1))
TEXTS = (
    "东岭村党支部书记刘德福把低保名额给了自己的亲戚，村里的账目三年没有公开。",
    "西坡村党支部书记黄春生收受工程老板红包，村道工程给了自己的亲戚。",
    "南河村党总支书记马德才在青苗补偿款中克扣村民钱款，群众意见很大。",
    "北山社区党委书记胡志刚违规发放补贴，居民多次反映没有结果。",
    "镇财政所所长郑国平挪用扶贫资金修自家房子。",
    "副镇长周伟公车私用，周末开公车去钓鱼。",
    "东岭村会计林小燕账目不清，集体收入去向不明。",
    "工地老板欠我三个月工资不给，找了好几次都没用。",
    "小区物业乱收费，找了社区也没人管。",
    "镇里办事要跑好几趟，工作人员态度很差，吃拿卡要。",
)


def sample(desk: Desk, rng: random.Random) -> None:
    entry = desk.default_round()
    start = datetime(2026, 3, 9, 8, tzinfo=BEIJING)
    ids = []
    for _ in range(60):
        channel = rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]
        day = start + timedelta(days=int(rng.triangular(0, 20, 4)), hours=rng.randrange(10))
        ids.append(ingest(desk, Submission(
            channel=channel, received_at=day, text=rng.choice(TEXTS), password="sample-pass",  # noqa: S106
            round_id=entry.id)).submission_id)
    create_user(desk, "chengban", "triager", password=PASSWORD, teams=[entry.team])
    with desk.sessions() as db:
        user = db.scalar(select(m.StaffUser).where(m.StaffUser.username == "chengban"))
        assert user is not None
        actor = Actor(user.id, user.username, user.role)
    for item_id in ids[:12]:
        leads.accept(desk, actor, item_id, keeper="chengban")
    for item_id in ids[:4]:
        leads.close(desk, actor, item_id, disposal=rng.choice(
            ["talk_inquiry", "preliminary_check", "shelved"]))
    for item_id in ids[12:30:2]:
        try:
            leads.transfer(desk, actor, item_id, department=rng.choice(
                ["human_resources", "civil_affairs", "housing", "market_regulation"]))
        except leads.LeadError:
            continue
    for item_id in ids[40:44]:
        try:
            leads.mark_repeat(desk, actor, item_id, of=ids[0])
        except leads.LeadError:
            continue


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else OUT
    rng = random.Random(20260309)  # noqa: S311 (invented data, reproducible)
    with tempfile.TemporaryDirectory(prefix="render-stats-") as tmp:
        desk = open_desk(Settings(data_dir=Path(tmp)))
        try:
            sample(desk, rng)
            entry = desk.default_round()
            create_user(desk, "zuzhang", "team_leader", password=PASSWORD, teams=[entry.team])
            with desk.sessions() as db:
                db.execute(text("UPDATE staff_users SET must_change_password = false"))
                db.commit()
            server = http_server(create_app(desk.settings, desk=desk), "127.0.0.1", 0,
                                 threads=4, max_body=1 << 20)
            server.prepare()
            thread = threading.Thread(target=server.serve, daemon=True)
            thread.start()
            try:
                shoot(f"http://127.0.0.1:{bound_port(server)}", out)
            finally:
                server.stop()
        finally:
            desk.close()
    print(out)
    return 0


def shoot(base: str, out: Path) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=base,
                                locale="zh-CN", device_scale_factor=1)
        page.goto("/staff/login")
        page.get_by_label("用户名").fill("zuzhang")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state()
        page.goto("/staff/stats?since=2026-03-09&until=2026-03-31")
        page.wait_for_load_state()
        images = page.locator(".stats-chart img")
        for i in range(images.count()):
            images.nth(i).scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                   arg=images.nth(i).element_handle())
        page.evaluate("window.scrollTo(0, 0)")
        height = page.evaluate(
            "document.querySelector('#status').getBoundingClientRect().bottom + 16")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": 1280, "height": height},
                        full_page=True)
        browser.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
