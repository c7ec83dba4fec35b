"""The handover bundle: opened with its password and not without, Chinese names intact, the
identity file only on a team leader's choice, one index row per lead, Notepad-readable texts,
names safe on Windows, and a size limit that leaves no half-written archive behind."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import pyzipper
from openpyxl import load_workbook

from intake import handover
from intake.handover import (
    BundleTooLargeError,
    LeadFile,
    case_text,
    handover_zip,
    lead_folder,
    new_bundle_password,
    safe_name,
)
from intake.ledger import HEADER_ROW, LedgerRow, TransferRow, ledger_xlsx

BEIJING = timezone(timedelta(hours=8))
MADE = datetime(2026, 5, 20, 10, 30, tzinfo=BEIJING)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
INDEX_HEADER = ("序号", "编号", "标题", "承办人", "案卷文件夹")


def make_row(number: str = "青山巡线〔2026〕001号") -> LedgerRow:
    return LedgerRow(
        item_id=3, number=number, transfer_numbers=(),
        received_at=datetime(2026, 3, 5, 1, 0, tzinfo=UTC), channel="电子邮件",
        named=True, title="镇长插手工程", summary="反映镇长***插手工程。", subject="镇长",
        subject_role="领导班子成员", disciplines=("廉洁纪律",), in_scope=True, status="已受理",
        keeper="王五", disposal="", departments=(), repeat_of="",
        deadlines=(("办结", date(2026, 5, 4), True),), closed_on=None,
        history="3月9日 王五 受理")


def leads(count: int = 2, *, identity: bool = False) -> list[LeadFile]:
    return [LeadFile(folder=lead_folder(i, f"青山巡线〔2026〕{i:03d}号"),
                     summary_text=f"编号：青山巡线〔2026〕{i:03d}号\n内容：反映镇长***插手工程。",
                     attachments=[("附件1.png", PNG), ("附件2.pdf", b"%PDF-1.4 ...")],
                     identity_text="反映人：张三\n联系电话：13800000000" if identity else None)
            for i in range(1, count + 1)]


def index_rows(files: list[LeadFile]) -> list[tuple[str, ...]]:
    return [(str(i), f"青山巡线〔2026〕{i:03d}号", "镇长插手工程", "王五", lead.folder)
            for i, lead in enumerate(files, 1)]


def build(tmp_path: Path, files: list[LeadFile], *, password: str = "ABCDE-FGHJK-MNPQR-STUVW",
          **kwargs: object) -> Path:
    out = tmp_path / "移交.zip"
    book = ledger_xlsx("青山镇巡察", "县委第一巡察组", [make_row()], generated_at=MADE,
                       zone=BEIJING)
    handover_zip(book, index_rows(files), INDEX_HEADER, files, password, out=out,
                 round_name="青山镇巡察", team="县委第一巡察组", made_at=MADE, zone=BEIJING,
                 **kwargs)  # type: ignore[arg-type]
    return out


def read_all(path: Path, password: str = "ABCDE-FGHJK-MNPQR-STUVW") -> dict[str, bytes]:
    with pyzipper.AESZipFile(path) as archive:
        archive.setpassword(password.encode())
        return {name: archive.read(name) for name in archive.namelist()}


def test_opens_with_the_password_and_not_without(tmp_path: Path) -> None:
    path = build(tmp_path, leads())
    contents = read_all(path)
    assert contents["001_青山巡线〔2026〕001号/附件/附件1.png"] == PNG
    with zipfile.ZipFile(path) as plain:  # the standard library cannot read WinZip AES
        info = plain.getinfo("台账.xlsx")
        assert info.flag_bits & 0x1  # encrypted
        with pytest.raises((RuntimeError, NotImplementedError)):
            plain.read("台账.xlsx")
    with pyzipper.AESZipFile(path) as archive:
        with pytest.raises(RuntimeError):  # no password
            archive.read("说明.txt")
        archive.setpassword(b"WRONG-WRONG-WRONG-WRONG")
        with pytest.raises(RuntimeError):
            archive.read("说明.txt")
        # AES-256 (strength 3) in the WinZip AES extra field of every entry.
        for info in archive.infolist():
            extra = info.extra
            at = extra.find(b"\x01\x99")
            assert at >= 0 and extra[at + 8] == 3, info.filename


def test_layout_and_chinese_names(tmp_path: Path) -> None:
    names = set(read_all(build(tmp_path, leads())))
    assert names == {
        "台账.xlsx", "索引.xlsx", "说明.txt",
        "001_青山巡线〔2026〕001号/案卷.txt",
        "001_青山巡线〔2026〕001号/附件/附件1.png",
        "001_青山巡线〔2026〕001号/附件/附件2.pdf",
        "002_青山巡线〔2026〕002号/案卷.txt",
        "002_青山巡线〔2026〕002号/附件/附件1.png",
        "002_青山巡线〔2026〕002号/附件/附件2.pdf",
    }
    with zipfile.ZipFile(build(tmp_path, leads())) as plain:
        # The UTF-8 name flag, which 7-Zip and WinRAR honour.
        assert all(info.flag_bits & 0x800 for info in plain.infolist())


def test_identity_file_only_when_chosen(tmp_path: Path) -> None:
    without = read_all(build(tmp_path, leads()))
    assert not [n for n in without if n.endswith("反映人信息.txt")]
    readme = without["说明.txt"].decode("utf-8-sig")
    assert "反映人身份信息：未包含" in readme
    assert all(b"13800000000" not in data for data in without.values())

    chosen = read_all(build(tmp_path, leads(identity=True), with_identity=True,
                            chosen_by="组长赵六"))
    identity = chosen["002_青山巡线〔2026〕002号/反映人信息.txt"].decode("utf-8-sig")
    assert "联系电话：13800000000" in identity
    readme = chosen["说明.txt"].decode("utf-8-sig")
    assert "反映人身份信息：已包含。经组长赵六决定" in readme and "共 2 件" in readme


def test_identity_without_the_choice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="identity"):
        build(tmp_path, leads(identity=True))
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left


def test_index_has_one_row_per_lead(tmp_path: Path) -> None:
    files = leads(3)
    book = load_workbook(io.BytesIO(read_all(build(tmp_path, files))["索引.xlsx"]))
    ws = book.active
    assert ws["A1"].value == "青山镇巡察移交材料索引"
    assert tuple(c.value for c in ws[HEADER_ROW]) == INDEX_HEADER
    rows = list(ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True))
    assert len(rows) == 3
    assert rows[2][4] == "003_青山巡线〔2026〕003号"


def test_ledger_is_inside_unchanged(tmp_path: Path) -> None:
    book = load_workbook(io.BytesIO(read_all(build(tmp_path, leads()))["台账.xlsx"]))
    assert book.sheetnames[0] == "问题线索台账"


def test_texts_open_in_notepad(tmp_path: Path) -> None:
    contents = read_all(build(tmp_path, leads()))
    case = contents["001_青山巡线〔2026〕001号/案卷.txt"]
    assert case.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    assert b"\r\n" in case and not re.search(rb"[^\r]\n", case)
    assert case.decode("utf-8-sig").startswith("编号：青山巡线〔2026〕001号")
    readme = contents["说明.txt"].decode("utf-8-sig")
    assert "2026年5月20日 10:30" in readme and "2 个案卷文件夹（共 4 个附件）" in readme
    assert "7-Zip" in readme


def test_unsafe_names_are_made_safe_and_unique(tmp_path: Path) -> None:
    files = [LeadFile(folder="../..\\CON", summary_text="甲", attachments=[
                 ("a/b:c?.png", PNG), ("A/B:C?.PNG", PNG), ("", b"x")], identity_text=None),
             LeadFile(folder="001_同号", summary_text="乙", attachments=[], identity_text=None),
             LeadFile(folder="001_同号", summary_text="丙", attachments=[], identity_text=None)]
    names = set(read_all(build(tmp_path, files)))
    assert all(not part.startswith(".") and "\\" not in part and ":" not in part
               for name in names for part in name.split("/"))
    assert "_.._CON/案卷.txt" in names
    assert "001_同号/案卷.txt" in names and "001_同号_2/案卷.txt" in names
    attachments = sorted(n.rsplit("/", 1)[1] for n in names if "/附件/" in n)
    assert attachments == ["A_B_C__2.PNG", "a_b_c_.png", "附件"]


@pytest.mark.parametrize(("name", "expected"), [
    ("001_青山巡线〔2026〕001号", "001_青山巡线〔2026〕001号"),
    ("a<b>c|d", "a_b_c_d"),
    ("trailing. . ", "trailing"),
    (".hidden", "hidden"),
    ("nul.txt", "未命名_nul.txt"),
    ("...", "未命名"),
    ("图" * 100 + ".jpg", "图" * 56 + ".jpg"),
])
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_size_limit(tmp_path: Path) -> None:
    big = [LeadFile("001_大件", "丁", [("附件1.png", bytes(300_000))], None)]
    with pytest.raises(BundleTooLargeError) as caught:
        build(tmp_path, big, max_bytes=200_000)
    assert "MB" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_files_may_come_one_at_a_time(tmp_path: Path) -> None:
    files = leads(2)
    out = tmp_path / "移交.zip"
    handover_zip(b"xlsx", index_rows(files), INDEX_HEADER, iter(files), "PW", out=out,
                 round_name="青山镇巡察", team="", made_at=MADE, zone=BEIJING)
    assert "002_青山巡线〔2026〕002号/案卷.txt" in read_all(out, "PW")


def test_new_bundle_password() -> None:
    passwords = {new_bundle_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{5}(-[23456789ABCDEFGHJKMNPQRST"
                            r"UVWXYZ]{5}){3}", password)
    assert not set("01OIL") & set(handover.PASSWORD_ALPHABET)


def test_case_text_from_parts() -> None:
    transfer = TransferRow(number="青山巡转〔2026〕3号", item_number="青山巡线〔2026〕001号",
                           department="县人社局", dispatched_on=date(2026, 3, 9),
                           method="机要交换", accept_due=date(2026, 3, 16), reply_due=None,
                           status="已送达")
    text = case_text(make_row(), text="反映镇长***插手工程，\n还欠工人工资。", zone=BEIJING,
                     steps=["2026年3月9日 10:02 王五 受理"], transfers=[transfer],
                     replies=["2026年3月12日 县人社局 已受理"], attachments=["附件1.png"])
    assert text.startswith("编号：青山巡线〔2026〕001号\n")
    assert "收件时间：2026年3月5日 09:00（电子邮件，实名）" in text
    assert "承办人：王五" in text and "处置方式：尚未处置" in text
    assert "最近期限：办结 2026年5月4日（已超期）" in text
    assert "还欠工人工资。" in text
    assert "  2026年3月9日 10:02 王五 受理" in text
    assert "青山巡转〔2026〕3号  转县人社局  2026年3月9日 机要交换" in text
    assert "附件：附件1.png" in text
