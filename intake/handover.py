"""The handover bundle (移交材料): what a team gives the commission at its round's end.

This module owns the bundle's shape and its encryption. One AES-256 encrypted ZIP (WinZip AES,
which 7-Zip and WinRAR open with the password; Windows' own "extract" cannot) holds:

- `台账.xlsx`, the round's ledger (intake.ledger);
- the round's closing appendices beside it (`附件1_信访举报受理情况统计表.docx`,
  `附件2_问题线索移交清单.docx`, `附件3_转办情况一览表.docx`; intake.reports);
- `索引.xlsx`, the index sheet, one row per lead;
- one folder per lead (`001_青山巡线〔2026〕001号/`) with `案卷.txt` (the lead's file: numbers,
  dates, keeper, status, disposal, masked title and text, history, transfers and replies),
  `附件/` (its attachments, decrypted) and, only when a team leader chose to include
  identities, `反映人信息.txt`;
- `说明.txt`, saying what the bundle holds, when it was made and whether identities are in it.

The password is made by `new_bundle_password` and given by a separate channel. Texts are
UTF-8 with a byte-order mark and CRLF line ends, so Notepad on the commission's PCs shows the
Chinese. The archive is written to a file (a round's attachments can run to hundreds of MB)
and guarded by a size limit. ZIP encrypts the contents, not the names: a name says no more
than a lead number, and attachments are named 附件1.png.

Pure apart from the output file: the caller gathers the rows and files (inside the viewer's
scope) and audits the handover and the choice of identities.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path

import pyzipper
from openpyxl import Workbook

from intake.ledger import LedgerRow, TransferRow, cn_date, nearest_deadline, write_table
from intake.submission import IntakeError

LEDGER_NAME = "台账.xlsx"
INDEX_NAME = "索引.xlsx"
README_NAME = "说明.txt"
CASE_NAME = "案卷.txt"
IDENTITY_NAME = "反映人信息.txt"
ATTACHMENT_DIR = "附件"
MAX_BUNDLE_BYTES = 4 * 1024**3  # ZIP64 allows more; a bigger bundle is a mistake, not a round
FOLDER_CHARS = 60  # Windows paths stay well under 260 characters once extracted
# Uppercase letters and digits a reader cannot confuse (no 0/O, 1/I/L): 31 symbols.
PASSWORD_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # noqa: S105  # not a password
PASSWORD_GROUPS, PASSWORD_GROUP_LEN = 4, 5  # 20 symbols: about 99 bits
# Formats that are compressed already: stored as they are, deflating them only costs time.
STORED_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".pdf", ".zip", ".xlsx",
                   ".docx", ".mp3", ".m4a", ".amr", ".mp4", ".mov")
# Characters Windows forbids in a name, control characters, and path separators.
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)
TOO_LARGE = "移交材料超过 {limit} MB，未生成。请分批移交或与管理员联系。"


class BundleTooLargeError(IntakeError):
    """The bundle would pass its size limit; `message` is Chinese, for staff."""

    def __init__(self, limit: int) -> None:
        self.message = TOO_LARGE.format(limit=limit // (1024 * 1024))
        super().__init__(self.message)


@dataclass(frozen=True)
class LeadFile:
    """One lead's folder in the bundle. Attachments are (shown name, decrypted content)."""

    folder: str  # e.g. "001_青山巡线〔2026〕001号"; made safe for file systems here
    summary_text: str  # the lead's file as text (case_text composes one)
    attachments: Sequence[tuple[str, bytes]]  # shown names (附件1.png) and content
    identity_text: str | None  # only when identities are included: "反映人：…" lines


def new_bundle_password() -> str:
    """A strong password that reads well aloud or on paper: four groups of five symbols from
    PASSWORD_ALPHABET joined by hyphens (the hyphens are part of it), from `secrets`."""
    return "-".join(
        "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_GROUP_LEN))
        for _ in range(PASSWORD_GROUPS))


def safe_name(name: str, fallback: str = "未命名") -> str:
    """`name` as a file or folder name that Windows, macOS and Linux all accept: no path
    separators or forbidden characters, no leading or trailing dots or spaces (so no `..` and
    no hidden file), no reserved device name, at most FOLDER_CHARS characters (the suffix
    kept)."""
    text = _FORBIDDEN.sub("_", unicodedata.normalize("NFC", name)).strip(". ")
    if len(text) > FOLDER_CHARS:
        stem, dot, suffix = text.rpartition(".")
        if dot and 0 < len(suffix) <= 8 and stem:
            text = stem[: FOLDER_CHARS - len(suffix) - 1].rstrip(". ") + "." + suffix
        else:
            text = text[:FOLDER_CHARS].rstrip(". ")
    if not text.strip("._ ") or _RESERVED.fullmatch(text):
        text = f"{fallback}_{text}" if text.strip("._ ") else fallback
    return text


def lead_folder(position: int, number: str) -> str:
    """A lead's folder name: its position in the index, three digits, and its number."""
    return safe_name(f"{position:03d}_{number}" if number else f"{position:03d}")


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`… when taken (compared as Windows does, ignoring case)."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, dot, suffix = name, "", ""
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem}_{n}{dot}{suffix}"
    taken.add(candidate.casefold())
    return candidate


def notepad_text(text: str) -> bytes:
    """Text as Windows Notepad reads it everywhere: CRLF line ends, UTF-8 with a BOM."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\r\n".join(lines).encode("utf-8-sig")


def case_text(row: LedgerRow, *, text: str, zone: tzinfo, steps: Sequence[str] = (),
              transfers: Sequence[TransferRow] = (), replies: Sequence[str] = (),
              attachments: Sequence[str] = ()) -> str:
    """A lead's file (案卷) as text, from its ledger row, its full masked text, its signed steps
    ("2026年3月5日 10:02 王五 受理：…"), its transfers, the replies to them and the shown
    names of its attachments. Never an identity: the caller passes masked texts only."""
    received = row.received_at.astimezone(zone)
    subject = row.subject + (f"（{row.subject_role}）" if row.subject_role else "")
    in_scope = {True: "是", False: "否", None: "未定"}[row.in_scope]
    lines = [
        f"编号：{row.ledger_number()}",
        f"收件时间：{cn_date(received)} {received:%H:%M}（{row.channel}，"
        f"{'实名' if row.named else '匿名'}）",
        f"反映对象：{subject or '未记录'}",
        f"问题类别：{'、'.join(row.disciplines) or '未定'}",
        f"是否属受理范围：{in_scope}",
        f"承办人：{row.keeper or '未指定'}",
        f"办理状态：{row.status}",
        f"处置方式：{row.disposal or '尚未处置'}",
    ]
    if row.closed_on:
        lines.append(f"办结日期：{cn_date(row.closed_on)}")
    if row.repeat_of:
        lines.append(f"重复件：与 {row.repeat_of} 反映同一事项")
    nearest = nearest_deadline(row)
    if nearest:
        kind, due, late = nearest
        lines.append(f"最近期限：{kind} {cn_date(due)}{'（已超期）' if late else ''}")
    lines += ["", f"标题：{row.title}", "内容：", text.strip() or "（无）"]
    if steps:
        lines += ["", "办理过程：", *(f"  {step}" for step in steps)]
    if transfers:
        lines += ["", "转办记录："]
        for t in transfers:
            reply = f"，答复期限 {cn_date(t.reply_due)}" if t.reply_due else ""
            lines.append(f"  {t.number}  转{t.department}  {cn_date(t.dispatched_on)} "
                         f"{t.method}，受理期限 {cn_date(t.accept_due)}{reply}，{t.status}")
    if replies:
        lines += ["", "答复：", *(f"  {reply}" for reply in replies)]
    if attachments:
        lines += ["", f"附件：{'、'.join(attachments)}（见“{ATTACHMENT_DIR}”文件夹）"]
    return "\n".join(lines) + "\n"


def index_xlsx(title: str, header: Sequence[str],
               rows: Sequence[Sequence[str | int | date | None]]) -> bytes:
    """The index sheet (索引): a title, the count, the header and one row per lead, written as
    the ledger is (text never a formula, dates as dates, header repeated on printed pages)."""
    book = Workbook()
    ws = book.active
    ws.title = "索引"
    widths = [min(40.0, max(6.0, 2.2 * max(len(str(v)) for v in (name, *(
        r[i] if i < len(r) else "" for r in rows))))) for i, name in enumerate(header)]
    write_table(ws, title, f"共 {len(rows)} 件", header, widths,
                [(tuple(r), False) for r in rows], centred=set())
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _readme(*, round_name: str, team: str, made_at: datetime, zone: tzinfo, leads: int,
            attachments: int, identities: int, with_identity: bool, chosen_by: str,
            appendices: Sequence[str] = ()) -> str:
    made = made_at.astimezone(zone)
    if with_identity:
        who = f"经{chosen_by}决定" if chosen_by else "经组长决定"
        identity = (f"已包含。{who}，并已记入审计日志；共 {identities} 件线索的文件夹中有"
                    f"“{IDENTITY_NAME}”。")
    else:
        identity = "未包含。各文件只有经遮蔽的内容，不含反映人姓名、联系方式、证件号码和地址。"
    return "\n".join([
        f"{team}{round_name} 移交材料",
        "",
        f"生成时间：{cn_date(made)} {made:%H:%M}",
        "内容：",
        f"  {LEDGER_NAME}：问题线索台账（本轮次收到的全部件，不含垃圾信息）和转办记录；",
        *[f"  {name}：巡察结束附件（不含反映人信息）；" for name in appendices],
        f"  {INDEX_NAME}：案卷索引，每件线索一行；",
        f"  {leads} 个案卷文件夹（共 {attachments} 个附件），每个文件夹有“{CASE_NAME}”"
        f"（编号、日期、承办人、办理状态、处置方式、标题和内容、办理过程、转办和答复）"
        f"和“{ATTACHMENT_DIR}”文件夹。",
        f"反映人身份信息：{identity}",
        "",
        "打开方法：本压缩包以 AES-256 加密，请用 7-Zip 或 WinRAR 打开，输入另行送达的密码"
        "（含连字符“-”，字母均为大写）。Windows 自带的解压功能不能打开。",
        "保密要求：本材料按涉密材料管理，专人保管、专柜存放；不得将材料或反映人信息透露给"
        "被反映人及其所在单位。",
        "",
    ])


def handover_zip(ledger_xlsx: bytes, index_rows: Sequence[Sequence[str | int | date | None]],
                 index_header: Sequence[str], files: Iterable[LeadFile], password: str, *,
                 out: Path, round_name: str, team: str, made_at: datetime, zone: tzinfo,
                 with_identity: bool = False, chosen_by: str = "",
                 appendices: Sequence[tuple[str, bytes]] = (),
                 max_bytes: int = MAX_BUNDLE_BYTES) -> None:
    """Write the bundle to `out`: an AES-256 ZIP under `password` holding LEDGER_NAME,
    the `appendices` (file name, DOCX bytes) beside it, INDEX_NAME, one folder per lead and
    README_NAME. `files` may be a generator, so that only
    one lead's attachments are in memory at a time. A lead's identity file is written only with
    `with_identity` (a team leader's audited choice, named by `chosen_by`); a LeadFile carrying
    one without it is refused (ValueError), so no identity leaves by accident. Growing past
    `max_bytes` raises BundleTooLargeError. The archive appears at `out` only when complete."""
    if not password:
        raise ValueError("a bundle needs a password")
    out = Path(out)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115  # kept on success, renamed
        dir=out.parent, prefix=".handover-", suffix=".part", delete=False)
    try:
        with handle, pyzipper.AESZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED,
                                         encryption=pyzipper.WZ_AES) as archive:
            archive.setpassword(password.encode("utf-8"))
            archive.setencryption(pyzipper.WZ_AES, nbits=256)

            stamp = made_at.astimezone(zone).timetuple()[:6]  # what Explorer/7-Zip show

            def put(name: str, data: bytes) -> None:
                if handle.tell() + len(data) > max_bytes:
                    raise BundleTooLargeError(max_bytes)
                entry = archive.zipinfo_cls(name, date_time=stamp)
                entry.external_attr = 0o600 << 16  # read by its holder only, once extracted
                stored = name.lower().endswith(STORED_SUFFIXES)
                entry.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                archive.writestr(entry, data)
                if handle.tell() > max_bytes:
                    raise BundleTooLargeError(max_bytes)

            put(LEDGER_NAME, ledger_xlsx)
            for name, content in appendices:
                put(safe_name(name), content)
            put(INDEX_NAME, index_xlsx(f"{round_name}移交材料索引", index_header, index_rows))
            folders: set[str] = set()
            leads = attachments = identities = 0
            for lead in files:
                if lead.identity_text is not None and not with_identity:
                    raise ValueError(f"{lead.folder}: identity given but not chosen")
                folder = _unique(safe_name(lead.folder), folders)
                put(f"{folder}/{CASE_NAME}", notepad_text(lead.summary_text))
                names: set[str] = set()
                for shown, content in lead.attachments:
                    name = _unique(safe_name(shown, "附件"), names)
                    put(f"{folder}/{ATTACHMENT_DIR}/{name}", content)
                    attachments += 1
                if lead.identity_text is not None:
                    put(f"{folder}/{IDENTITY_NAME}", notepad_text(lead.identity_text))
                    identities += 1
                leads += 1
            put(README_NAME, notepad_text(_readme(
                round_name=round_name, team=team, made_at=made_at, zone=zone, leads=leads,
                attachments=attachments, identities=identities, with_identity=with_identity,
                chosen_by=chosen_by, appendices=[safe_name(n) for n, _ in appendices])))
        os.replace(handle.name, out)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
