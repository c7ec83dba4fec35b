"""Files at rest: 0700/0600 whatever the umask, plaintext previews kept off the disk, and the
start-up sweep of what a crash left behind."""

from __future__ import annotations

import io
import logging
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from handlers.web import create_app
from intake import letters
from intake.atrest import SHM, make_private, memory_prefix, sweep_at_start
from intake.cli import main as cli_main
from intake.desk import Desk, open_desk
from intake.ocrworker import PlainCopies, page_jpeg
from intake.settings import Settings
from intake.store import models as m

OPENED = datetime(2026, 3, 9, 0, 30, tzinfo=UTC)
OLD = time.time() - 3600


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 80), "white").save(out, "PNG")
    return out.getvalue()


def pdf(pages: int) -> bytes:
    out = io.BytesIO()
    images = [Image.new("RGB", (200, 280), "white") for _ in range(pages)]
    images[0].save(out, "PDF", save_all=True, append_images=images[1:])
    return out.getvalue()


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    """Permission bits of everything under root (symlinks aside), by relative path."""
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        if not path.is_symlink():
            out[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return out


def test_everything_written_is_private_under_umask_000(
        open_umask: None, tmp_path: Path, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "fresh"
    data.mkdir(mode=0o777)
    data.chmod(0o777)
    monkeypatch.setenv("INTAKE_DATA_DIR", str(data))
    monkeypatch.delenv("INTAKE_DATABASE_URL", raising=False)
    fresh = replace(settings, data_dir=data, database_url="")
    desk = open_desk(fresh)
    try:
        client = create_app(fresh, desk=desk).test_client()
        r = client.post("/api/v1/reports", data={
            "text": "镇长插手工程让他亲戚中标。", "password": "long-enough-1",
            "attachments": [(io.BytesIO(png()), "照片.png")]}, content_type="multipart/form-data")
        assert r.status_code == 201, r.get_json()
        batch_id = letters.create_batch(desk, source="postal", box="", opened_at=OPENED,
                                        note="", staff_id=None)
        added = letters.add_file(desk, batch_id, "来信.pdf", io.BytesIO(pdf(2)))
        copies = PlainCopies(desk)
        with desk.sessions() as session:
            file = session.get_one(m.ScanFile, added.file_id)
        assert page_jpeg(copies, file, 1, 0, 240)[:2] == b"\xff\xd8"
        out = tmp_path / "export.jsonl"
        assert cli_main(["export", "--format", "jsonl", "--out", str(out)]) == 0
        found = modes(data)
        copies.close()
    finally:
        desk.close()
    assert {"intake.db", "intake.db-wal", "keys/master.key"} <= set(found)
    assert any(k.startswith("attachments/") for k in found)
    wrong = {k: oct(v) for k, v in found.items()
             if v != (0o700 if (data / k).is_dir() else 0o600)}
    assert not wrong, wrong
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_database_left_readable_is_closed_up(open_umask: None, tmp_path: Path) -> None:
    data = tmp_path / "lax"
    (data / "keys").mkdir(parents=True)
    for name in ("intake.db", "intake.db-wal", "keys/master.key"):
        (data / name).write_bytes(b"x")
        (data / name).chmod(0o644)
    data.chmod(0o755)
    make_private(data)
    assert {k: v for k, v in modes(data).items()} == {
        ".": 0o700, "keys": 0o700, "intake.db": 0o600, "intake.db-wal": 0o600,
        "keys/master.key": 0o600}


def test_previews_and_page_counts_keep_no_plaintext_on_disk(desk: Desk) -> None:
    if not SHM.is_dir():
        pytest.skip("no tmpfs at /dev/shm: copies go to the data folder's tmp")
    batch_id = letters.create_batch(desk, source="postal", box="", opened_at=OPENED, note="",
                                    staff_id=None)
    added = letters.add_file(desk, batch_id, "来信.pdf", io.BytesIO(pdf(3)))
    assert added.pages == 3
    with desk.sessions() as session:
        file = session.get_one(m.ScanFile, added.file_id)
    shm = sorted(SHM.glob(memory_prefix(desk.settings.data_dir) + "*"))
    copies = PlainCopies(desk)
    try:
        for page in (1, 2, 3):
            page_jpeg(copies, file, page, 0, 240)
        # The copy is kept for the next page, in memory (tmpfs), under the name staff see
        # (never the uploaded one, which may be identity); nothing of it in the data folder.
        tmp = desk.settings.data_dir / "tmp"
        assert not [p for p in tmp.rglob("*") if not p.is_dir()]
        kept = sorted(set(SHM.glob(memory_prefix(desk.settings.data_dir) + "*")) - set(shm))
        assert len(kept) == 1 and stat.S_IMODE(kept[0].stat().st_mode) == 0o700
        assert [p.name for p in kept[0].iterdir()] == [file.original_name] == ["附件1.pdf"]
        with letters.decrypted_copy(desk, file.storage_name, "来信.pdf") as path:
            assert path.parent.parent == SHM and path.read_bytes()[:5] == b"%PDF-"
        assert not path.exists()
    finally:
        copies.close()
    assert not kept[0].exists()


def test_the_start_up_sweep_removes_orphans_and_keeps_live_files(
        desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    data = desk.settings.data_dir
    client = create_app(desk.settings, desk=desk).test_client()
    r = client.post("/api/v1/reports", data={
        "text": "村支书把低保给了自己亲戚。", "password": "long-enough-1",
        "attachments": [(io.BytesIO(png()), "照片.png")]}, content_type="multipart/form-data")
    assert r.status_code == 201
    batch_id = letters.create_batch(desk, source="postal", box="", opened_at=OPENED, note="",
                                    staff_id=None)
    scan = letters.add_file(desk, batch_id, "来信.pdf", io.BytesIO(pdf(1)))
    with desk.sessions() as session:
        live = [desk.files.path_of(n) for n in session.scalars(select(m.Attachment.storage_name))]
        live.append(desk.files.path_of(session.get_one(m.ScanFile, scan.file_id).storage_name))
    for path in live:
        os.utime(path, (OLD, OLD))  # old, but a row names them
    orphan = desk.files.path_of("ab" * 32)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"encrypted bytes of a report whose transaction never committed")
    young_orphan = desk.files.path_of("cd" * 32)  # maybe another process's, being committed
    young_orphan.parent.mkdir(parents=True, exist_ok=True)
    young_orphan.write_bytes(b"just written")
    (data / "tmp").mkdir(exist_ok=True)
    stale_spool = data / "tmp" / "tmpabc123"
    stale_spool.write_bytes(b"a spooled body")
    stale_copy = data / "tmp" / "tmpdef456"
    stale_copy.mkdir()
    (stale_copy / "来信.pdf").write_bytes(b"%PDF- plaintext of a scan")
    half_blob = data / "attachments" / "tmp" / "tmpghi789"
    half_blob.parent.mkdir(exist_ok=True)
    half_blob.write_bytes(b"half written")
    for path in (orphan, stale_spool, stale_copy, half_blob):
        os.utime(path, (OLD, OLD))
    shm_copy = SHM / (memory_prefix(data) + "crashed")
    if SHM.is_dir():
        shm_copy.mkdir()
        (shm_copy / "来信.pdf").write_bytes(b"%PDF- plaintext")
        os.utime(shm_copy, (OLD, OLD))
    fresh_spool = data / "tmp" / "tmpjkl000"
    fresh_spool.write_bytes(b"an upload in progress")
    orphan.chmod(0o644)

    caplog.set_level(logging.INFO, logger="intake.atrest")
    with desk.sessions() as session:
        swept = sweep_at_start(data, session)
    assert (swept.orphans, swept.stale) == (1, 3 + SHM.is_dir())
    assert not shm_copy.exists()
    assert not orphan.exists() and young_orphan.exists()
    assert all(p.exists() for p in live)
    assert not stale_spool.exists() and not stale_copy.exists() and not half_blob.exists()
    assert fresh_spool.exists()
    message = "\n".join(r.getMessage() for r in caplog.records if r.name == "intake.atrest")
    assert f"1 orphaned attachment files, {3 + SHM.is_dir()} stale temporary entries" in message
    assert "ab" * 32 not in message and "tmp" not in message and "来信" not in message
