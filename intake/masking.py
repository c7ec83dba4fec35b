"""Masking identity in text and file names: what staff, the classifier and exports see.

Every text a channel stores in searchable form (report, title, follow-ups, e-mail bodies and
subjects, OCR text, desk logs) passes through `mask_text` first. It hides the reporter's
declared identity wherever it appears (name, display name, phone, ID number, e-mail, and an
address specific enough to point at a home), then by pattern every phone number, ID number
(checksum verified), e-mail address and bank card number (Luhn verified), in named and
anonymous items alike. Numbers that identify nobody (amounts, dates, case numbers, 12345)
stay. The unmasked original is sealed by the caller, next to the identity.

Attachment names are identity too (`张三-13912345678.png`): staff see `附件1.png`, numbered per
item, with the extension of the sniffed type (`shown_name`); the uploaded name is sealed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import filetype

from intake.attachments import ALLOWED_TYPES
from intake.protect import Identity

NAME = "［姓名已隐去］"
PHONE = "［电话已隐去］"
ID_NUMBER = "［身份证号已隐去］"
EMAIL = "［邮箱已隐去］"
BANK_CARD = "［银行卡号已隐去］"
ADDRESS = "［地址已隐去］"
ACCOUNT = "［账号已隐去］"
PLACEHOLDERS = (NAME, PHONE, ID_NUMBER, EMAIL, BANK_CARD, ADDRESS, ACCOUNT)

# Full-width digits, letters and signs people type on Chinese keyboards, mapped one character
# to one, so a match in the folded text is a match at the same place in the original.
_FOLD = {0xFF01 + i: 0x21 + i for i in range(0x5E)} | {0x3000: 0x20}
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")
_SEP = r"[ \t\-–—]"  # what people put between the digit groups of a number
_MOBILE_SEP = r"[ \t\-–—.·]"  # a mobile is also written 139.1234.5678
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_ID_RE = re.compile(
    rf"(?<![0-9A-Za-z])[1-9]\d{{5}}{_SEP}?\d{{8}}{_SEP}?\d{{3}}[0-9Xx](?![0-9A-Za-z])")
_CARD_RE = re.compile(rf"(?<!\d)\d(?:{_SEP}?\d){{15,18}}(?!\d)")
_COUNTRY = rf"(?:(?:\+|00)?86{_SEP}?|\(\+?86\){_SEP}?)?"
_MOBILE_RE = re.compile(rf"(?<![\d.]){_COUNTRY}1[3-9]\d(?:{_MOBILE_SEP}?\d){{8}}(?!\d)(?!\.\d)")
_LANDLINE_RE = re.compile(
    rf"(?<![\d+])(?:\(0\d{{2,3}}\)|0\d{{2,3}}){_SEP}?[2-9]\d{{2,3}}{_SEP}?\d{{4}}"
    rf"(?:\s*(?:转|ext\.?|-)\s*\d{{1,5}})?(?!\d)")
# A number given as a phone, QQ or WeChat contact without an area code.
_CONTACT_RE = re.compile(
    r"((?:联系)?电话|手机号?|座机|联系方式|tel|TEL|Tel|QQ|qq|微信号?|WeChat|wechat)"
    r"(\s*(?:号码?|是|为)?\s*[:：]?\s*)"
    rf"([0-9A-Za-z_](?:{_SEP}?[0-9A-Za-z_\-]){{4,19}})(?![0-9A-Za-z_])")
_ADDRESS_DETAIL = re.compile(r"[0-9０-９号室栋幢楼单元组巷弄]")
_CONTROL_BIDI = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def mask_text(text: str, identity: Identity | None = None) -> str:
    """`text` with the declared identity and every identity-looking number hidden.

    The declared identity is looked for first, then the patterns in order (e-mail, ID number,
    bank card, mobile, landline, a number given as a contact); a match overlapping an earlier
    one is left to it. Idempotent: masking masked text changes nothing.
    """
    if not text:
        return text
    folded = _fold(text)
    spans: list[tuple[int, int, str]] = []
    for pattern, decide, group in (*_declared_rules(identity or Identity()), *_RULES):
        for mt in pattern.finditer(folded):
            placeholder = decide(mt)
            start, end = mt.span(group)
            if placeholder and all(end <= s or start >= e for s, e, _ in spans):
                spans.append((start, end, placeholder))
    if not spans:
        return text
    out, last = [], 0
    for start, end, placeholder in sorted(spans):
        out.append(text[last:start] + placeholder)
        last = end
    return "".join(out) + text[last:]


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str | None], int]


def _contact(mt: re.Match[str]) -> str | None:
    if mt.group(1).lower().startswith(("qq", "微信", "wechat")):
        return ACCOUNT
    # "电话 110", "热线电话12345": no one's own number
    return PHONE if len(_digits(mt.group(3))) >= 7 else None


_RULES: tuple[_Rule, ...] = (
    (_EMAIL_RE, lambda _mt: EMAIL, 0),
    (_ID_RE, lambda mt: ID_NUMBER if valid_id_number(_digits(mt.group())) else None, 0),
    (_CARD_RE, lambda mt: BANK_CARD if luhn_ok(_digits(mt.group())) else None, 0),
    (_MOBILE_RE, lambda _mt: PHONE, 0),
    (_LANDLINE_RE, lambda _mt: PHONE, 0),
    (_CONTACT_RE, _contact, 3),
)


def mask_json(value: Any, identity: Identity | None = None) -> Any:
    """Every string inside a JSON value masked (classification evidence, duplicate phrases)."""
    if isinstance(value, str):
        return mask_text(value, identity)
    if isinstance(value, list):
        return [mask_json(v, identity) for v in value]
    if isinstance(value, dict):
        return {k: mask_json(v, identity) for k, v in value.items()}
    return value


def valid_id_number(value: str) -> bool:
    """An 18-character resident ID number (GB 11643) whose check character is right."""
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


def luhn_ok(digits: str) -> bool:
    """The Luhn check every bank card number (银联 included) passes."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def shown_name(number: int, content_type: str) -> str:
    """The name staff see and download: `附件3.png`, the extension from the sniffed type."""
    ext = extension_of(content_type)
    return f"附件{number}.{ext}" if ext else f"附件{number}"


def extension_of(content_type: str) -> str:
    """The usual extension of a MIME type we keep, or "" when there is none."""
    if content_type == "message/rfc822":
        return "eml"
    if content_type not in ALLOWED_TYPES:  # e.g. octet-stream: a file we could not type
        return ""
    kind = filetype.get_type(mime=content_type)
    return kind.extension if kind is not None else ""


def download_name(name: str, content_type: str) -> str:
    """A stored shown name made safe once more for Content-Disposition: no control or bidi
    characters, and the extension always that of the sniffed type (rows from before masking
    may still carry `poly.html` for a PNG)."""
    clean = "".join(ch for ch in unicodedata.normalize("NFC", name)
                    if unicodedata.category(ch) not in _CONTROL_BIDI).strip(". ")
    stem = clean.rsplit(".", 1)[0] if "." in clean else clean
    ext = extension_of(content_type)
    stem = stem or "附件"
    return f"{stem}.{ext}" if ext else stem


def _declared_rules(identity: Identity) -> list[_Rule]:
    """Patterns of the reporter's own identity, as written (spaces, dashes, full width)."""
    rules: list[_Rule] = []

    def rule(pattern: re.Pattern[str], placeholder: str) -> None:
        rules.append((pattern, lambda _mt: placeholder, 0))

    email = _fold(identity.email.strip())
    if "@" in email:
        rule(re.compile(re.escape(email), re.IGNORECASE), EMAIL)
    for value, placeholder in ((identity.id_number, ID_NUMBER), (identity.phone, PHONE)):
        digits = _digits(value)
        if len(digits) >= 7:
            prefix = _COUNTRY if placeholder == PHONE else ""
            rule(re.compile(prefix + _spaced(digits, _SEP).pattern, re.IGNORECASE), placeholder)
    address = identity.address.strip()
    if len(address) >= 6 and (_ADDRESS_DETAIL.search(address) or len(address) >= 10):
        rule(_spaced(address, r"\s"), ADDRESS)
    names = sorted({identity.name.strip(), identity.display_name.strip().strip("\"'")},
                   key=len, reverse=True)
    for name in names:
        if len(name) >= 2 and "@" not in name:
            rule(_spaced(name, r"\s", re.IGNORECASE), NAME)
    return rules


def _spaced(value: str, sep: str, flags: int = 0) -> re.Pattern[str]:
    """`value` as written, perhaps with separators between its characters (full-width too)."""
    return re.compile(f"{sep}?".join(re.escape(ch) for ch in _fold(value)
                                      if not ch.isspace()), flags)


def _fold(text: str) -> str:
    return text.translate(_FOLD) if _FULL_WIDTH.search(text) else text


def _digits(value: str) -> str:
    return "".join(ch for ch in _fold(value) if ch.isdigit() or ch in "Xx")
