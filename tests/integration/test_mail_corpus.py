"""parse_mail and score_spam on real Chinese e-mail (../shared/data/emails) and on mails built
from the complaint texts of ../shared/data: everything readable, no petition marked as spam."""

from __future__ import annotations

import email.policy
import html
import json
import re
from email.message import EmailMessage
from functools import cache
from typing import Any

import pytest

from intake.mailparse import ParsedMail, parse_mail
from intake.mailspam import score_spam
from tests.support import SHARED

DATA = SHARED / "data"
EMAILS = DATA / "emails"

# Files whose body has no Chinese to find, with the reason (looked at by hand).
NO_CJK_BODY = {
    "osst_cn_spam_osst_dc61fb8233f9.eml": "the body is the single character '1' plus a list footer",
    **dict.fromkeys(
        ["trec06c_spam_1990.eml", "trec06c_spam_2148.eml", "trec06c_spam_2192.eml"],
        "an image advert: the HTML body holds nothing but 'DM' (the corpus dropped the markup)"),
}
CJK = re.compile(r"[\u4e00-\u9fff\u3040-\u30ff]")
# Characters that make up most of any Chinese text; mis-decoded text has almost none of them.
COMMON = set("的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下"
             "自之年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部"
             "其些主样理心她本前开但因只从想实公司您")
MOJIBAKE = re.compile(r"[ÃÂÐÑ][\u0080-\u00ff]|[\u00c0-\u00ff]{3,}|锟斤拷|\ufffd")


def corpus() -> list[dict[str, Any]]:
    manifest = EMAILS / "manifest.jsonl"
    if not manifest.is_file():
        return []
    return [json.loads(line) for line in manifest.read_text("utf-8").splitlines() if line.strip()]


ENTRIES = corpus()
needs_corpus = pytest.mark.skipif(
    not ENTRIES, reason=f"e-mail corpus not found at {EMAILS} (shared data not checked out)")


@cache
def parsed(name: str) -> ParsedMail:
    return parse_mail((EMAILS / name).read_bytes())


def raw_subject(name: str) -> bytes | None:
    head = (EMAILS / name).read_bytes().split(b"\n\n", 1)[0]
    match = re.search(rb"^Subject:(.*(?:\n[ \t].*)*)", head, re.MULTILINE | re.IGNORECASE)
    return match.group(1).strip() if match else None


def reads_as_chinese(text: str) -> bool:
    han = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    return len(han) < 30 or sum(ch in COMMON for ch in han) >= 0.1 * len(han)


@needs_corpus
def test_corpus_is_complete() -> None:
    files = sorted(path.name for path in EMAILS.glob("*.eml"))
    assert sorted(entry["file"] for entry in ENTRIES) == files
    assert len(files) >= 100


@needs_corpus
@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_corpus_mail_is_readable(entry: dict[str, Any]) -> None:
    name = entry["file"]
    features = set(entry["features"])
    mail = parsed(name)

    subject = raw_subject(name)
    if subject:
        assert mail.subject, "subject lost"
        assert "=?" not in mail.subject, f"undecoded encoded word: {mail.subject!r}"
        if "undecodable_subject" not in features:
            assert not MOJIBAKE.search(mail.subject), mail.subject
        if not subject.isascii() or "=?" in subject.decode("ascii", "replace"):
            assert CJK.search(mail.subject), mail.subject

    assert mail.text, "body lost"
    assert not MOJIBAKE.search(mail.text), MOJIBAKE.search(mail.text)
    if name in NO_CJK_BODY:
        assert not CJK.search(mail.text)
    else:
        assert CJK.search(mail.text), mail.text[:200]
        assert reads_as_chinese(mail.text), mail.text[:200]
    assert mail.from_address.count("@") == 1
    mail.text.encode("utf-8")


@needs_corpus
@pytest.mark.parametrize(("name", "subject", "start"), [
    ("trec06c_ham_1392.eml", "Re: 说说我们楼的北京老头老太太", "对于此事我另有看法."),
    ("trec06c_ham_1807.eml", "[SPAM-TEST] Re: 谢谢李老师的推荐，祝您国庆节快乐", "昨天晚上发神经"),
    ("trec06c_ham_849.eml", "Re: 问下,如果对某一GG表白多次都被拒绝,是不是就是绝对不可能?",
     "对阿，"),
    ("trec06c_ham_2172.eml", "Re: 前几天听同事讲的家庭暴力", "以前同宿舍的东北哥们儿"),
    ("trec06c_spam_1471.eml", "各种进口药品/药水", "无标题文档"),
    ("trec06c_spam_546.eml", "中国教学资源网免费提供中小学精品课件下载", "中国教学资源网"),
    ("trec06c_spam_5527.eml", "优惠代开发票！！", "贵公司负责人(经理/财务）您好："),
    ("trec06c_spam_6187.eml", "濮阳豫安防腐有限公司：王国胜", "寻找合作伙伴．河南省濮阳市"),
    ("trec06c_spam_3166.eml", "烟台招商旅行社台湾之旅", "New Page 1"),
    ("osst_cn_spam_osst_8810bf19a155.eml", "[Osst-users] 【OA待处理】lists.sourceforge.net邮箱账户",
     "尊敬的企业邮箱用户osst-users 你好"),
])
def test_corpus_spot_checks(name: str, subject: str, start: str) -> None:
    """Mails that needed a fallback: raw 8-bit subject, a folded line without indent, missing
    boundary, charset="charset=..." labels, raw 8-bit From, latin-1 and Big5 labels on GB bytes,
    a base64 label on a body the corpus had already decoded."""
    mail = parsed(name)
    assert mail.subject == subject
    assert mail.text.startswith(start)


@needs_corpus
def test_corpus_from_names_and_defects() -> None:
    assert parsed("trec06c_spam_546.eml").from_name == "中国教学资源网"
    assert parsed("trec06c_ham_5077.eml").from_name == "海鹰"
    assert "multipart boundary not found; whole body treated as text" in parsed(
        "trec06c_ham_5077.eml").defects
    assert parsed("trec06c_spam_1471.eml").html_only


@needs_corpus
def test_spam_scorer_against_manifest_labels() -> None:
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    missed: list[str] = []
    for entry in ENTRIES:
        marked = score_spam(parsed(entry["file"])).is_spam
        spam = entry["label"] == "spam"
        counts[("t" if marked == spam else "f") + ("p" if marked else "n")] += 1
        if spam and not marked:
            missed.append(entry["file"])
    precision = counts["tp"] / max(1, counts["tp"] + counts["fp"])
    recall = counts["tp"] / max(1, counts["tp"] + counts["fn"])
    print(f"\nspam on {len(ENTRIES)} mails: precision {precision:.3f}, recall {recall:.3f}, "
          f"{counts}; missed: {missed}")
    assert counts["fp"] == 0, "a ham mail was marked as spam"
    assert recall >= 0.75


def complaint_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in ("complaints_dev.jsonl", "messages_dev.jsonl"):
        path = DATA / name
        if path.is_file():
            rows += [json.loads(line) for line in path.read_text("utf-8").splitlines()
                     if line.strip()]
    return rows


ROWS = complaint_rows()


def is_advert(row: dict[str, Any]) -> bool:
    """The data marks the few rows that are themselves spam (routes 'none', note 垃圾广告)."""
    return "垃圾" in row.get("note", "") and row.get("routes_ok") == ["none"]


def as_mail(text: str, variant: str) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = "群众 <citizen@example.cn>"
    message["To"] = "xuncha@example.gov.cn"
    message["Subject"] = text.splitlines()[0][:20]
    if variant == "html":
        markup = "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"
        message.set_content(f"<html><body>{markup}</body></html>", subtype="html")
    else:
        message.set_content(text, charset="gb18030" if variant == "gb18030" else "utf-8",
                            cte="8bit" if variant == "gb18030" else "base64")
    return message.as_bytes()


@pytest.mark.skipif(not ROWS, reason=f"complaint texts not found in {DATA}")
@pytest.mark.parametrize("variant", ["utf-8", "gb18030", "html"])
def test_no_complaint_text_is_marked_as_spam(variant: str) -> None:
    wrongly: list[str] = []
    adverts: list[str] = []
    for row in ROWS:
        mail = parse_mail(as_mail(row["text"], variant))
        squeeze = re.compile(r"\s+")
        assert squeeze.sub("", mail.text) == squeeze.sub("", row["text"]), row["id"]
        verdict = score_spam(mail)
        if is_advert(row):
            adverts.append(row["id"])
            assert verdict.is_spam, (row["id"], verdict)
        elif verdict.is_spam:
            wrongly.append(f"{row['id']} {verdict}")
    print(f"\n{variant}: {len(ROWS) - len(adverts)} complaint texts, {len(wrongly)} marked as "
          f"spam; {len(adverts)} adverts in the data marked")
    assert adverts, "the data's spam look-alike went missing"
    assert wrongly == []
