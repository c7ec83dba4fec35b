"""A round's printables over the web and the command line: anyone downloads the announcement
and the posters; the staff page is for the round's own desk and the administrator."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pypdf
import pypdfium2 as pdfium
import pytest
from flask import Flask
from flask.testing import FlaskClient

from handlers.web import create_app
from intake.desk import Desk, open_desk
from intake.publication import FontMissingError, find_font
from intake.rounds import load_files
from intake.settings import EXAMPLE_ROUND, Settings
from tests.integration.test_cli import run
from tests.support import staff_client

try:
    find_font()
except FontMissingError as exc:
    pytestmark = pytest.mark.skip(reason=exc.message)

BASE = "https://xc.example.cn"


def slug_of(desk: Desk) -> str:
    entry = desk.rounds.default()
    assert entry is not None
    return entry.slug


def second_round(desk: Desk, tmp_path: Path, hotline: str = "0000-7654321",
                 boxes: str = "") -> str:
    text = EXAMPLE_ROUND.read_text(encoding="utf-8")
    if boxes:
        text = re.sub(r"suggestion_boxes: \[.*\]", f"suggestion_boxes: [{boxes}]", text)
    for old, new in (("县委第一巡察组", "县委第二巡察组"), ("xcz1@", "xcz2@"),
                     ("0000-1234567", hotline), ("中共青山镇委员会", "中共白水镇委员会"),
                     ("places: [青山镇, 青山]", "places: [白水镇]")):
        text = text.replace(old, new)
    text = text.replace("round:\n", "round:\n  slug: baishui-2026-1\n", 1)
    path = tmp_path / "baishui.yaml"
    path.write_text(text, encoding="utf-8")
    load_files(desk.sessions, [path])
    desk.rounds.refresh(force=True)
    return "baishui-2026-1"


def login(app: Flask, desk: Desk, username: str, role: str, team: str) -> FlaskClient:
    return staff_client(app, desk, username, role, [team])


@pytest.fixture
def public_desk(settings: Settings) -> Iterator[Desk]:
    d = open_desk(replace(settings, public_base_url=BASE + "/"))
    yield d
    d.close()


def test_anyone_downloads_the_announcement_and_each_poster(public_desk: Desk) -> None:
    client = create_app(public_desk.settings, desk=public_desk).test_client()
    slug = slug_of(public_desk)
    page = client.get(f"/r/{slug}/").get_data(as_text=True)
    link = f"/r/{slug}/announcement.pdf"
    assert f'href="{link}"' in page and "下载打印本轮公告" in page

    pdf = client.get(link)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == f'inline; filename="{slug}-announcement.pdf"'
    assert len(pypdf.PdfReader(io.BytesIO(pdf.data)).pages) == 1
    png = client.get(f"/r/{slug}/announcement.png?download=1")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert png.headers["Content-Disposition"].startswith("attachment;")

    boxes = public_desk.rounds.by_slug(slug).cfg.suggestion_boxes
    for number in (0, len(boxes)):
        poster = client.get(f"/r/{slug}/posters/{number}.pdf")
        assert poster.status_code == 200 and poster.data.startswith(b"%PDF")
    assert client.get(f"/r/{slug}/posters/{len(boxes) + 1}.pdf").status_code == 404
    assert client.get(f"/r/{slug}/posters/1.gif").status_code == 404
    assert client.get("/r/no-such-round/announcement.pdf").status_code == 404


def test_a_changed_round_gets_a_new_announcement(public_desk: Desk, tmp_path: Path) -> None:
    client = create_app(public_desk.settings, desk=public_desk).test_client()
    slug = second_round(public_desk, tmp_path)
    first = client.get(f"/r/{slug}/announcement.pdf").data
    assert client.get(f"/r/{slug}/announcement.pdf").data == first  # from the cache
    second_round(public_desk, tmp_path, hotline="0000-1111111")
    changed = client.get(f"/r/{slug}/announcement.pdf").data
    assert changed != first
    document = pdfium.PdfDocument(changed)
    try:
        assert "0000-1111111" in document[0].get_textpage().get_text_range()
    finally:
        document.close()


def test_the_staff_page_is_the_rounds_own_desks_and_warns_of_a_local_address(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    slug = slug_of(desk)
    officer = staff_client(app, desk, "duty1", "duty_officer")
    triager = staff_client(app, desk, "triager1", "triager")
    admin = staff_client(app, desk, "root1", "admin")
    other_slug = second_round(desk, tmp_path)
    stranger = login(app, desk, "duty2", "duty_officer", "县委第二巡察组")

    page = officer.get(f"/staff/rounds/{slug}/publication")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "服务器本机的地址" in html and "public_base_url" in html
    for box in desk.rounds.by_slug(slug).cfg.suggestion_boxes:
        assert f"{box}意见箱" in html
    assert "通用海报" in html
    assert f"/r/{slug}/announcement.pdf?download=1" in html
    assert f"/r/{slug}/posters/5.png" in html
    assert re.search(rf"http://127\.0\.0\.1:\d+/r/{slug}/report\?box=3", html)
    assert other_slug not in html  # another team's round is not offered
    assert "公告和海报" in officer.get("/staff/desk/").get_data(as_text=True)

    assert triager.get(f"/staff/rounds/{slug}/publication").status_code == 403
    assert stranger.get(f"/staff/rounds/{slug}/publication").status_code == 404
    assert stranger.get(f"/staff/rounds/{other_slug}/publication").status_code == 200
    both = admin.get(f"/staff/rounds/{slug}/publication").get_data(as_text=True)
    assert other_slug in both


def test_no_warning_when_the_public_address_is_set(public_desk: Desk) -> None:
    app = create_app(public_desk.settings, desk=public_desk)
    officer = staff_client(app, public_desk, "duty1", "duty_officer")
    html = officer.get(f"/staff/rounds/{slug_of(public_desk)}/publication").get_data(
        as_text=True)
    assert "服务器本机的地址" not in html
    assert f"{BASE}/r/{slug_of(public_desk)}/report?box=poster" in html


def test_intake_rounds_publish_writes_every_file(desk: Desk, tmp_path: Path) -> None:
    slug = second_round(desk, tmp_path, boxes="白水镇人民政府大院")  # one box: quicker
    out = tmp_path / "print"
    result = run(["rounds", "publish", slug, "--out", str(out)], desk)
    assert result.returncode == 0, result.stderr
    names = ["announcement", "poster-0", "poster-1"]
    expected = [str(out / f"{name}.{ext}") for name in names for ext in ("pdf", "png")]
    assert result.stdout.splitlines() == expected
    assert all(Path(p).stat().st_size > 1000 for p in expected)
    assert "127.0.0.1" in result.stderr  # the QR codes point at the server itself

    missing = run(["rounds", "publish", "no-such-round", "--out", str(out)], desk)
    assert missing.returncode == 2 and "没有轮次 no-such-round" in missing.stderr
