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
_SEP = r"[ \t\-–—]"  # what people put between the digit groups of a number
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_ID_RE = re.compile(
    rf"(?<![0-9A-Za-z])[1-9]\d{{5}}{_SEP}?\d{{8}}{_SEP}?\d{{3}}[0-9Xx](?![0-9A-Za-z])")
_CARD_RE = re.compile(rf"(?<!\d)\d(?:{_SEP}?\d){{15,18}}(?!\d)")
_COUNTRY = rf"(?:(?:\+|00)?86{_SEP}?|\(\+?86\){_SEP}?)?"
_MOBILE_RE = re.compile(rf"(?<!\d){_COUNTRY}1[3-9]\d(?:{_SEP}?\d){{8}}(?!\d)")
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

    Idempotent: masking masked text changes nothing, so a text may pass through twice.
    """
    if not text:
        return text
    identity = identity or Identity()
    text = _mask_declared(text, identity)
    text = _sub(_EMAIL_RE, text, lambda _s: EMAIL)
    text = _sub(_ID_RE, text, lambda s: ID_NUMBER if valid_id_number(_digits(s)) else None)
    text = _sub(_CARD_RE, text, lambda s: BANK_CARD if luhn_ok(_digits(s)) else None)
    text = _sub(_MOBILE_RE, text, lambda _s: PHONE)
    text = _sub(_LANDLINE_RE, text, lambda _s: PHONE)
    folded = text.translate(_FOLD)
    out, last = [], 0
    for mt in _CONTACT_RE.finditer(folded):
        label, value = mt.group(1), mt.group(3)
        account = label.lower().startswith(("qq", "微信", "wechat"))
        if not account and len(_digits(value)) < 7:
            continue  # "电话 110", "热线电话12345": no one's own number
        placeholder = ACCOUNT if account else PHONE
        out.append(text[last:mt.start(3)] + placeholder)
        last = mt.end(3)
    return "".join(out) + text[last:] if out else text


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
    kind = filetype.get_type(mime=content_type) if content_type else None
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


def _mask_declared(text: str, identity: Identity) -> str:
    for value in (identity.email,):
        value = value.strip()
        if "@" in value:
            text = re.sub(re.escape(value), EMAIL, text, flags=re.IGNORECASE)
    for value, placeholder in ((identity.id_number, ID_NUMBER), (identity.phone, PHONE)):
        digits = _digits(value)
        if len(digits) >= 7:
            prefix = _COUNTRY if placeholder == PHONE else ""
            text = _sub(re.compile(prefix + _spaced(digits, _SEP).pattern, re.IGNORECASE),
                        text, lambda _s, p=placeholder: p)
    address = identity.address.strip()
    if len(address) >= 6 and (_ADDRESS_DETAIL.search(address) or len(address) >= 10):
        text = _sub(_spaced(address, r"\s"), text, lambda _s: ADDRESS)
    names = sorted({identity.name.strip(), identity.display_name.strip().strip("\"'")},
                   key=len, reverse=True)
    for name in names:
        if len(name) >= 2 and "@" not in name:
            text = _sub(_spaced(name, r"\s", re.IGNORECASE), text, lambda _s: NAME)
    return text


def _spaced(value: str, sep: str, flags: int = 0) -> re.Pattern[str]:
    """`value` as written, perhaps with separators between its characters (full-width too)."""
    return re.compile(f"{sep}?".join(re.escape(ch.translate(_FOLD)) for ch in value
                                      if not ch.isspace()), flags)


def _sub(pattern: re.Pattern[str], text: str, replace: Callable[[str], str | None]) -> str:
    """Replace matches found in the full-width-folded text at the same places in `text`."""
    folded = text.translate(_FOLD)
    out, last = [], 0
    for mt in pattern.finditer(folded):
        placeholder = replace(mt.group())
        if placeholder is None:
            continue
        out.append(text[last:mt.start()] + placeholder)
        last = mt.end()
    return "".join(out) + text[last:] if out else text


def _digits(value: str) -> str:
    return "".join(ch for ch in value.translate(_FOLD) if ch.isdigit() or ch in "Xx")
