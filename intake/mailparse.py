"""Robust parsing of real-world (mostly Chinese) e-mail into readable text and attachments.

Real Chinese mail is often broken: GB2312 labels on GBK bytes, Big5 labelled as GB2312, raw 8-bit
headers, RFC 2047 words glued together or split mid-character, labels like
``charset="charset="GB2312""``, multiparts whose boundary never appears. ``parse_mail`` never
raises for any input (only ``MemoryError`` may escape); whatever it had to guess or repair is
noted in ``ParsedMail.defects``.

Decoding bytes follows one rule everywhere (bodies, headers, file names): strict decode with the
declared charset mapped to its superset (GB2312/GBK → GB18030, Big5 → Big5-HKSCS/CP950); if that
fails or the result looks implausible, try UTF-8, GB18030, Big5 and ``charset_normalizer`` and
keep the most plausible strict decoding; finally GB18030 with replacement characters.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.policy
import email.utils
import html
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from functools import cache
from types import MappingProxyType
from urllib.parse import unquote_to_bytes

import charset_normalizer
import html_text

__all__ = ["FORWARD_MARK", "MailAttachment", "ParsedMail", "decode_bytes", "parse_mail"]


@dataclass(frozen=True)
class MailAttachment:
    """A non-body part: a file, an inline image, a text part declared as attachment."""

    filename: str  # decoded and readable; never empty (generated from the type if missing)
    content_type: str  # the declared type, lower-case, e.g. "image/jpeg"
    data: bytes  # decoded payload (base64/QP undone)
    inline: bool  # Content-Disposition inline, or has a Content-ID


@dataclass(frozen=True)
class ParsedMail:
    """What a raw message says, decoded; `defects` notes every repair and guess made."""

    subject: str  # decoded, one line; "" if none
    from_address: str  # addr-spec of From, lower-cased; "" if missing/unparseable
    from_name: str  # decoded display name of From; "" if none
    message_id: str  # "<…>" or "" if none
    in_reply_to: str  # the first "<…>" or "" if none
    text: str  # readable, normalised body text (forwarded mails included as blocks)
    html_only: bool  # the text came from HTML because there was no text/plain
    attachments: tuple[MailAttachment, ...]
    headers: Mapping[str, str] = field(hash=False)  # KEPT_HEADERS found, first occurrence
    defects: tuple[str, ...]  # short English notes of what was broken and the fallback used
    date: str = ""  # the Date header as sent (decoded), "" if none


KEPT_HEADERS = (
    "auto-submitted", "precedence", "list-id", "list-unsubscribe", "list-post",
    "x-auto-response-suppress", "x-spam-flag", "x-spam-status", "return-path",
    "reply-to", "x-mailer", "content-type",
)

FORWARD_MARK = "---------- 转发的邮件 ----------"

_MAX_DEPTH = 30
_SCORE_SAMPLE = 4000  # non-ASCII characters looked at when judging a decoding
_DETECT_SAMPLE = 65536  # bytes handed to charset_normalizer

# ---------------------------------------------------------------------------------------------
# Charsets
# ---------------------------------------------------------------------------------------------

_GB_FAMILY = "gb18030"
_BIG5_FAMILY = ("big5hkscs", "cp950")
_CHINESE_CANDIDATES = ("utf-8", _GB_FAMILY, *_BIG5_FAMILY)

_FAMILIES = {"big5hkscs": ("big5hkscs", "cp950"), "cp950": ("cp950", "big5hkscs")}
_LABEL_ALIASES = {
    "gb2312": _GB_FAMILY, "gb_2312": _GB_FAMILY, "gb_2312-80": _GB_FAMILY, "gb2312-80": _GB_FAMILY,
    "csgb2312": _GB_FAMILY, "euc-cn": _GB_FAMILY, "euccn": _GB_FAMILY, "x-euc-cn": _GB_FAMILY,
    "cn-gb": _GB_FAMILY, "gbk": _GB_FAMILY, "x-gbk": _GB_FAMILY, "cp936": _GB_FAMILY,
    "ms936": _GB_FAMILY, "windows-936": _GB_FAMILY, "936": _GB_FAMILY, "chinese": _GB_FAMILY,
    "gb18030": _GB_FAMILY, "gb18030-2000": _GB_FAMILY, "gb18030-2005": _GB_FAMILY,
    "x-mac-chinesesimp": _GB_FAMILY, "iso-ir-58": _GB_FAMILY,
    "big5": "big5hkscs", "big-5": "big5hkscs", "x-big5": "big5hkscs", "cn-big5": "big5hkscs",
    "csbig5": "big5hkscs", "big5-hkscs": "big5hkscs", "big5hkscs": "big5hkscs",
    "cp950": "cp950", "ms950": "cp950", "windows-950": "cp950", "x-x-big5": "big5hkscs",
    "utf8": "utf-8", "utf-8": "utf-8", "unicode-1-1-utf-8": "utf-8", "x-unicode20utf8": "utf-8",
    "hz-gb-2312": "hz", "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949",
    "iso-8859-8-i": "iso8859-8", "x-user-defined": "latin-1",
}
_UNKNOWN_LABELS = {"", "x-unknown", "unknown", "unknown-8bit", "x-unknown-8bit", "default",
                   "none", "null", "charset", "_charset"}
_UNSAFE_CODECS = {"undefined", "idna", "punycode", "unicode_escape", "raw_unicode_escape",
                  "mbcs", "oem", "charmap", "unicode_internal"}
# Declared East-Asian codecs that are not Chinese: trusted when they decode strictly.
_OTHER_CJK_CODECS = {"shift_jis", "cp932", "euc_jp", "iso2022_jp", "iso2022_jp_1",
                     "iso2022_jp_2", "iso2022_jp_3", "iso2022_jp_ext", "euc_jis_2004",
                     "shift_jis_2004", "euc_kr", "cp949", "johab", "iso2022_kr", "shift_jisx0213",
                     "euc_jisx0213", "iso2022_jp_2004"}


@dataclass(frozen=True)
class _Label:
    codec: str | None  # a usable Python text codec, or None when unknown/missing
    note: str  # non-empty when the label was malformed or unknown


@cache
def _codec_name(name: str) -> str | None:
    """The canonical name of a usable text codec, or None."""
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    # bytes-to-bytes codecs (base64, zlib, …) are not text encodings
    if not getattr(info, "_is_text_encoding", True) or info.name in _UNSAFE_CODECS:
        return None
    return info.name


def clean_label(label: str | None) -> _Label:
    """Map a charset label as found in real mail to a usable codec (GB/Big5 to supersets)."""
    if label is None:
        return _Label(None, "")
    text = str(label).encode("utf-8", "surrogateescape").decode("ascii", "ignore")
    raw = text.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"' and raw.count('"') == 2:
        raw = raw[1:-1]
    text = text.strip().strip("\"' \t").lower()
    # charset="charset="GB2312"", 'gb2312', gb2312_charset, "gb2312;" …
    for _ in range(3):
        text = re.sub(r"^\s*charset\s*=\s*", "", text).strip("\"' \t;,")
    text = re.sub(r"[_-]?charset$", "", text).strip("\"' \t;,")
    text = text.split()[0] if text.split() else ""
    malformed = text != raw.strip().lower()
    if text in _UNKNOWN_LABELS:
        return _Label(None, f"unknown charset label {raw.strip()!r}" if raw.strip() else "")
    mapped = _LABEL_ALIASES.get(text) or _LABEL_ALIASES.get(text.replace("_", "-"))
    codec = _codec_name(mapped or text)
    if codec is None:
        return _Label(None, f"unknown charset label {raw.strip()!r}")
    note = f"malformed charset label {raw.strip()!r} read as {codec}" if malformed else ""
    return _Label(codec, note)


@cache
def _is_single_byte(codec: str) -> bool:
    high = bytes(range(128, 256))
    try:
        return len(high.decode(codec, "replace")) == 128
    except (LookupError, ValueError, TypeError):
        return False


def _decode_strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def _table(codec: str, leads: range, trails: tuple[range, ...]) -> frozenset[str]:
    chars = set()
    for lead in leads:
        for trail in trails:
            for second in trail:
                text = _decode_strict(bytes((lead, second)), codec)
                if text and len(text) == 1:
                    chars.add(text)
    return frozenset(chars)


@cache
def _hanzi_tables() -> tuple[frozenset[str], frozenset[str]]:
    """(frequent hanzi, less frequent hanzi) from GB2312 and Big5 levels 1 and 2."""
    big5_trails = (range(0x40, 0x7F), range(0xA1, 0xFF))
    frequent = _table("gb2312", range(0xB0, 0xD8), (range(0xA1, 0xFF),)) | _table(
        "big5", range(0xA4, 0xC7), big5_trails)
    rarer = _table("gb2312", range(0xD8, 0xF8), (range(0xA1, 0xFF),)) | _table(
        "big5", range(0xC9, 0xFA), big5_trails)
    return frequent, rarer - frequent


def _char_weight(ch: str, frequent: frozenset[str], rarer: frozenset[str]) -> float:
    cp = ord(ch)
    if ch in frequent or ch.isspace():
        return 1.0
    if ch in rarer:
        return 0.55
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x3FFFF:
        return 0.3
    if (0x3000 <= cp <= 0x303F or 0xFF01 <= cp <= 0xFF5E or 0xFFE0 <= cp <= 0xFFE6
            or 0x2010 <= cp <= 0x205E or 0x2100 <= cp <= 0x22FF or 0x2460 <= cp <= 0x24FF
            or 0x25A0 <= cp <= 0x26FF or cp in (0xA7, 0xA9, 0xAE, 0xB0, 0xB1, 0xB7, 0xD7, 0xF7)
            or 0x1F300 <= cp <= 0x1FAFF):
        return 1.0
    if 0x3040 <= cp <= 0x30FF:  # kana (Japanese text is legal in GB2312)
        return 0.5
    if 0x2500 <= cp <= 0x257F:
        return 0.5
    if cp == 0xFFFD or 0xE000 <= cp <= 0xF8FF or 0xD800 <= cp <= 0xDFFF or cp < 0x20 \
            or 0x7F <= cp <= 0x9F or 0xFF61 <= cp <= 0xFF9F:
        return 0.0
    if 0xC0 <= cp <= 0x24F or 0x80 <= cp <= 0xBF:  # the stuff of latin-1 mojibake
        return 0.2
    return 0.3


# The most frequent characters of written Chinese (simplified, then the traditional forms of those
# that differ). Real text of a few sentences has a fifth or more of its characters here; bytes
# decoded with the wrong Chinese charset almost none.
_TOP_HANZI = frozenset(
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过"
    "发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前"
    "开但因只从想实日公司市县镇村书记问题反映给请把被与及等钱元号电话工月"
    "這個們來為國說時會對發後裡裏經麼學現當沒動還進樣開實從過種與問題給請錢號電話鎮縣書記"
)


def plausibility(text: str) -> float:
    """0..1: how much the non-ASCII part of `text` looks like real (Chinese) text."""
    frequent, rarer = _hanzi_tables()
    total = 0.0
    count = 0
    han = 0
    top = 0
    for ch in text:
        if ch < "\x80":
            if ch < " " and ch not in "\t\n\r\f":
                count += 1
            continue
        total += _char_weight(ch, frequent, rarer)
        count += 1
        if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            han += 1
            top += ch in _TOP_HANZI
        if count >= _SCORE_SAMPLE:
            break
    if count == 0:
        return 1.0
    score = total / count
    if han >= 8:  # enough characters to judge by frequency
        score *= 0.6 + 0.4 * min(1.0, top / han / 0.15)
    return score


def _detected(data: bytes) -> tuple[str, str] | None:
    """charset_normalizer's best guess as (codec, text), or None."""
    try:
        best = charset_normalizer.from_bytes(data[:_DETECT_SAMPLE]).best()
    except (MemoryError, RecursionError):
        raise
    except Exception:
        return None
    if best is None:
        return None
    codec = clean_label(best.encoding).codec
    if codec is None:
        return None
    text = _decode_strict(data, codec)
    return None if text is None else (codec, text)


def decode_bytes(data: bytes, label: str | None, what: str, defects: list[str]) -> str:
    """Decode `data` declared as `label` into readable text; notes guesses in `defects`."""
    declared = clean_label(label)
    if declared.note:
        defects.append(f"{declared.note} for {what}")
    codec = declared.codec
    if data.isascii():
        if codec and (codec in ("hz", "utf-7") or codec.startswith("iso2022")):
            text = _decode_strict(data, codec)  # 7-bit encodings of Chinese and Japanese
            if text is not None:
                return text
        return data.decode("ascii")

    utf8 = _decode_strict(data, "utf-8")
    declared_text = None
    for member in _FAMILIES.get(codec, (codec,)) if codec else ():
        declared_text = _decode_strict(data, member)
        if declared_text is not None:
            codec = member
            break

    if declared_text is not None and codec is not None:
        if codec == "utf-8" or codec in _OTHER_CJK_CODECS or codec.startswith("utf"):
            return declared_text
        score = plausibility(declared_text)
        if utf8 is not None and plausibility(utf8) >= score - 0.05:
            defects.append(f"charset guessed utf-8 for {what} (declared {codec})")
            return utf8
        single_byte = _is_single_byte(codec)
        if score >= 0.85 and not single_byte:
            return declared_text
        best = _best_candidate(data, exclude=codec)
        if best is not None and best[2] >= 0.85 and best[2] > score:
            # A declared multi-byte Chinese decoding is only overruled when clearly worse: short
            # strings (subjects, names) are ambiguous between GB and Big5.
            enough = sum(1 for ch in declared_text if ch >= "\x80") >= 12 or score < 0.6
            if single_byte or (best[2] > score + 0.1 and enough):
                defects.append(f"charset guessed {best[0]} for {what} (declared {codec})")
                return best[1]
        return declared_text

    if utf8 is not None:
        if codec is not None:
            defects.append(f"charset guessed utf-8 for {what} (declared {codec})")
        return utf8
    best = _best_candidate(data, exclude=None)
    shown = codec or (str(label).strip() if label else "none")
    if best is not None and best[2] >= 0.6:
        defects.append(f"charset guessed {best[0]} for {what} (declared {shown})")
        return best[1]
    fallback = codec if codec and codec != _GB_FAMILY else _GB_FAMILY
    candidates = [(_GB_FAMILY, data.decode(_GB_FAMILY, "replace"))]
    if fallback != _GB_FAMILY:
        candidates.append((fallback, data.decode(fallback, "replace")))
    if best is not None:
        candidates.append((best[0], best[1]))
    name, text = max(candidates, key=lambda item: plausibility(item[1]))
    defects.append(f"undecodable bytes in {what}: decoded as {name} with replacement "
                   f"(declared {shown})")
    return text


def _best_candidate(data: bytes, exclude: str | None) -> tuple[str, str, float] | None:
    """The most plausible strict decoding among the Chinese charsets and the detector's guess."""
    results: list[tuple[str, str, float]] = []
    for codec in _CHINESE_CANDIDATES:
        if codec == exclude:
            continue
        text = _decode_strict(data, codec)
        if text is not None:
            results.append((codec, text, plausibility(text)))
    if not results or max(r[2] for r in results) < 0.85:
        guess = _detected(data)
        if guess is not None and guess[0] != exclude:
            results.append((guess[0], guess[1], plausibility(guess[1]) - 0.02))
    if not results:
        return None
    # stable max: earlier candidates (UTF-8, then GB18030) win ties
    return max(results, key=lambda r: r[2])


# ---------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------

_ENCODED_WORD = re.compile(rb"=\?([^?\s]{0,80})\?([bBqQ])\?([^?]*?)(?:\?=|\Z)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WS = re.compile(r"\s+")


def _to_bytes(value: str) -> bytes:
    """Raw header text (surrogate-escaped 8-bit bytes) back to bytes."""
    return value.encode("utf-8", "surrogateescape")


def _unsurrogate(value: str) -> str:
    """Remove lone surrogates so the text can always be encoded (e.g. stored as UTF-8)."""
    return value.encode("utf-8", "replace").decode("utf-8")


def _b_decode(text: bytes) -> bytes:
    clean = re.sub(rb"[^A-Za-z0-9+/]", b"", text)
    if len(clean) % 4 == 1:
        clean = clean[:-1]
    clean += b"=" * (-len(clean) % 4)
    try:
        return binascii.a2b_base64(clean)
    except (binascii.Error, ValueError):
        return text


def _q_decode(text: bytes) -> bytes:
    text = text.replace(b"_", b" ")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes((int(m.group(1), 16),)), text)


def decode_header_value(value: str | bytes, defects: list[str], what: str = "header") -> str:
    """Decode a raw header value: RFC 2047 (also broken), raw 8-bit bytes; one line."""
    raw = value if isinstance(value, bytes) else _to_bytes(value)
    raw = re.sub(rb"\r?\n(?=[ \t])", b"", raw).replace(b"\r", b"").replace(b"\n", b" ")
    pieces: list[str] = []
    group_label: bytes | None = None
    group: list[bytes] = []
    position = 0

    def flush() -> None:
        nonlocal group_label
        if group_label is not None:
            label = group_label.decode("ascii", "replace").split("*")[0]  # RFC 2231 language
            pieces.append(decode_bytes(b"".join(group), label or None, what, defects))
        group.clear()
        group_label = None

    for match in _ENCODED_WORD.finditer(raw):
        between = raw[position:match.start()]
        if between.strip() or group_label is None:
            flush()
            if between:
                pieces.append(_decode_literal(between, what, defects))
        label, kind, payload = match.groups()
        chunk = _b_decode(payload) if kind in b"bB" else _q_decode(payload)
        if not match.group(0).endswith(b"?="):
            defects.append(f"unterminated encoded word in {what}")
        if group_label is not None and label.lower() != group_label.lower():
            flush()
        group_label = label
        group.append(chunk)
        position = match.end()
    flush()
    if position < len(raw):
        pieces.append(_decode_literal(raw[position:], what, defects))
    text = _CONTROL.sub(" ", "".join(pieces))
    return _WS.sub(" ", _unsurrogate(text)).strip()


def _decode_literal(data: bytes, what: str, defects: list[str]) -> str:
    if data.isascii():
        return data.decode("ascii")
    defects.append(f"raw 8-bit bytes in {what}")
    return decode_bytes(data, None, what, defects)


def _raw_headers(part: Message) -> list[tuple[str, str]]:
    try:
        return [(str(name).lower(), str(value)) for name, value in part.raw_items()]
    except (MemoryError, RecursionError):
        raise
    except Exception:
        return []


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", " ")


_ADDRESS = re.compile(r"[^\s<>\"',;:()\[\]]+@[^\s<>\"',;:()\[\]]+")
_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s]+@[^<>\s]+?)\s*>")


def _parse_address(value: str | None, defects: list[str], what: str) -> tuple[str, str]:
    """(display name, lower-case addr-spec) from a raw From-like header."""
    if value is None:
        return "", ""
    unfolded = _unfold(value)
    try:
        name_raw, addr = email.utils.parseaddr(unfolded)
    except (MemoryError, RecursionError):
        raise
    except Exception:
        name_raw, addr = "", ""
    angle = _ANGLE_ADDRESS.findall(unfolded)
    if angle and angle[-1] != addr:
        addr = angle[-1]
        name_raw = unfolded[:unfolded.rfind("<")].strip().strip('"').strip()
        defects.append(f"{what} parsed leniently")
    elif "@" not in addr:
        match = _ADDRESS.search(unfolded)
        if match is None:
            defects.append(f"no address in {what}")
            name = decode_header_value(unfolded, defects, what) if unfolded.strip() else ""
            return name, ""
        addr = match.group(0)
        name_raw = unfolded[:match.start()].strip().strip("<").strip().strip('"')
        defects.append(f"{what} parsed leniently")
    address = decode_header_value(addr, defects, what).strip("<>").lower().replace(" ", "")
    name = decode_header_value(name_raw, defects, what).strip().strip('"').strip()
    if name.lower() == address:
        name = ""
    return name, address


def _msg_id(value: str | None, defects: list[str]) -> str:
    if value is None:
        return ""
    text = decode_header_value(value, defects, "message id")
    match = re.search(r"<[^<>\s]+>", text)
    return match.group(0) if match else text


# ---------------------------------------------------------------------------------------------
# MIME parameters (own parser: works on raw, broken values)
# ---------------------------------------------------------------------------------------------


def _split_params(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\" and quoted:
            current.append(ch)
            escaped = True
        elif ch == '"':
            quoted = not quoted
            current.append(ch)
        elif ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


@dataclass(frozen=True)
class _Params:
    kind: str  # "text/plain", "attachment", … (lower-case, "" if none)
    raw: dict[str, str]  # name -> raw (unquoted) value, RFC 2231 continuations still apart


def _parse_params(value: str | None) -> _Params:
    if value is None:
        return _Params("", {})
    pieces = _split_params(_unfold(value))
    kind = pieces[0].strip().strip('"').lower()
    params: dict[str, str] = {}
    for piece in pieces[1:]:
        name, sep, val = piece.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            continue
        params.setdefault(name, val.strip())
    return _Params(kind, params)


def _param_text(params: _Params, name: str, defects: list[str], what: str) -> str | None:
    """A decoded parameter value: RFC 2231 (with continuations), RFC 2047 words, raw 8-bit."""
    raw = params.raw
    if f"{name}*" in raw or f"{name}*0*" in raw or f"{name}*0" in raw:
        return _rfc2231(raw, name, defects, what)
    if name not in raw:
        return None
    return decode_header_value(_unquote(raw[name]), defects, what)


def _rfc2231(raw: dict[str, str], name: str, defects: list[str], what: str) -> str:
    if f"{name}*" in raw:
        sections = [(True, raw[f"{name}*"])]
    else:
        sections = []
        index = 0
        while index < 1000:
            if f"{name}*{index}*" in raw:
                sections.append((True, raw[f"{name}*{index}*"]))
            elif f"{name}*{index}" in raw:
                sections.append((False, raw[f"{name}*{index}"]))
            else:
                break
            index += 1
    charset: str | None = None
    data = bytearray()
    for position, (encoded, value) in enumerate(sections):
        value = _unquote(value)
        if encoded and position == 0 and value.count("'") >= 2:
            charset, _lang, value = value.split("'", 2)
        if encoded:
            data += unquote_to_bytes(_to_bytes(value))
        else:
            data += _to_bytes(value)
    text = decode_bytes(bytes(data), charset or None, what, defects)
    if "=?" in text:
        text = decode_header_value(text, defects, what)
    return _WS.sub(" ", _CONTROL.sub(" ", text)).strip()


# ---------------------------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]{0,300}?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]{1,40})""",
                           re.IGNORECASE)
_LOOKS_HTML = re.compile(r"<\s*(html|body|div|p|br|table|font|span|head|meta|a\s)[^>]*>",
                         re.IGNORECASE)
_ANY_TAG = re.compile(r"<[A-Za-z!/?]")
_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/pjpeg": ".jpg", "image/png": ".png",
    "image/gif": ".gif", "image/bmp": ".bmp", "image/webp": ".webp", "image/tiff": ".tif",
    "image/heic": ".heic", "text/plain": ".txt", "text/html": ".html", "text/csv": ".csv",
    "application/pdf": ".pdf", "application/msword": ".doc", "application/zip": ".zip",
    "application/vnd.ms-excel": ".xls", "application/octet-stream": ".bin",
    "message/rfc822": ".eml", "audio/mpeg": ".mp3", "video/mp4": ".mp4",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/x-rar-compressed": ".rar", "application/vnd.rar": ".rar",
    "application/x-7z-compressed": ".7z", "application/wps-office.doc": ".doc",
}


def _extension(content_type: str) -> str:
    if content_type in _EXTENSIONS:
        return _EXTENSIONS[content_type]
    guessed = mimetypes.guess_extension(content_type, strict=False)
    return guessed or ".bin"


def html_to_text(markup: str) -> str:
    """Readable text from HTML (html-text with layout); a plain tag stripper if that fails."""
    if not markup.strip():
        return ""
    try:
        return str(html_text.extract_text(markup, guess_layout=True))
    except (MemoryError, RecursionError):
        raise
    except Exception:
        stripped = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", markup)
        stripped = re.sub(r"(?i)<\s*(br|/p|/div|/tr|/h\d|/li)\b[^>]*>", "\n", stripped)
        stripped = re.sub(r"<[^>]*>", " ", stripped)
        return html.unescape(stripped)


_BLANKS = re.compile(r"\n{4,}")
_TRAILING = re.compile(r"[^\S\n]+$", re.MULTILINE)
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalise_text(text: str) -> str:
    """CRLF to LF, no trailing spaces, at most two blank lines in a row, stripped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _BODY_CONTROL.sub("", _unsurrogate(text))
    text = _TRAILING.sub("", text)
    return _BLANKS.sub("\n\n\n", text).strip()


@dataclass
class _Segment:
    kind: str  # "plain", "html" or "forward"
    text: str


@dataclass
class _Walker:
    defects: list[str] = field(default_factory=list)
    attachments: list[MailAttachment] = field(default_factory=list)

    def body(self, part: Message, depth: int) -> list[_Segment]:
        if depth > _MAX_DEPTH:
            self.defects.append("MIME nesting too deep; deeper parts flattened")
            return self._flatten(part)
        headers = _raw_headers(part)
        ctype = _parse_params(_first(headers, "content-type"))
        kind = ctype.kind if "/" in ctype.kind else ""
        if not kind:
            kind = "message/rfc822" if _default_is_message(part) else "text/plain"
        maintype, _, subtype = kind.partition("/")
        disposition = _parse_params(_first(headers, "content-disposition"))
        if kind in ("message/rfc822", "message/global") and _is_multipart(part):
            return self._forwarded(part, depth)
        if _is_multipart(part):
            return self._multipart(part, subtype, depth)
        if maintype == "multipart":
            return self._missing_boundary(part, ctype)
        filename = self._filename(ctype, disposition)
        attached = disposition.kind == "attachment" or (
            filename is not None and disposition.kind != "inline")
        if maintype == "text" and subtype in ("plain", "html", "enriched", "richtext") \
                and not attached:
            text = self._leaf_text(part, subtype, ctype)
            return [_Segment("html" if subtype == "html" else "plain", text)] if text else []
        self._attach(part, kind, filename, disposition, headers)
        return []

    def _flatten(self, part: Message) -> list[_Segment]:
        """Every leaf below `part`, without recursion: text as plain segments, others attached."""
        segments: list[_Segment] = []
        stack = [part]
        while stack:
            node = stack.pop()
            payload = getattr(node, "_payload", None)
            if isinstance(payload, list):
                stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
                continue
            headers = _raw_headers(node)
            ctype = _parse_params(_first(headers, "content-type"))
            kind = ctype.kind if "/" in ctype.kind else "text/plain"
            if kind.startswith("text/"):
                text = decode_bytes(_payload_bytes(node, self.defects), ctype.raw.get("charset"),
                                    "body", self.defects)
                if text.strip():
                    segments.append(_Segment("plain", text))
            else:
                disposition = _parse_params(_first(headers, "content-disposition"))
                self._attach(node, kind, self._filename(ctype, disposition), disposition, headers)
        return segments

    def _multipart(self, part: Message, subtype: str, depth: int) -> list[_Segment]:
        children = part.get_payload()
        if not isinstance(children, list):
            return []
        results = [self.body(child, depth + 1) for child in children
                   if isinstance(child, Message)]
        if subtype != "alternative":
            return [segment for result in results for segment in result]
        for wanted in ("plain", "html"):
            for result in results:
                if any(seg.kind == wanted and seg.text.strip() for seg in result):
                    return result
        return next((result for result in results if result), [])

    def _missing_boundary(self, part: Message, ctype: _Params) -> list[_Segment]:
        self.defects.append("multipart boundary not found; whole body treated as text")
        data = _payload_bytes(part, self.defects)
        charset = ctype.raw.get("charset")
        if charset is None and _META_CHARSET.search(data[:8192]):
            charset = _meta_charset(data)
        text = decode_bytes(data, charset, "body", self.defects)
        if _LOOKS_HTML.search(text[:20000]):
            return [_Segment("html", html_to_text(text))]
        return [_Segment("plain", text)] if text.strip() else []

    def _forwarded(self, part: Message, depth: int) -> list[_Segment]:
        inner = part.get_payload()
        if not isinstance(inner, list) or not inner or not isinstance(inner[0], Message):
            return []
        message = inner[0]
        headers = _raw_headers(message)
        name, address = _parse_address(_first(headers, "from"), self.defects, "forwarded from")
        subject = decode_header_value(_first(headers, "subject") or "", self.defects,
                                      "forwarded subject")
        date = decode_header_value(_first(headers, "date") or "", self.defects, "forwarded date")
        sender = f"{name} <{address}>" if name and address else (name or address)
        segments = self.body(message, depth + 1)
        lines = [FORWARD_MARK, f"发件人：{sender}"]
        if date:
            lines.append(f"日期：{date}")
        lines.append(f"主题：{subject}")
        block = "\n".join(lines) + "\n\n" + "\n\n".join(seg.text for seg in segments)
        return [_Segment("forward", block)]

    def _leaf_text(self, part: Message, subtype: str, ctype: _Params) -> str:
        data = _payload_bytes(part, self.defects)
        charset = ctype.raw.get("charset")
        if subtype == "html":
            if charset is None or not clean_label(charset).codec:
                charset = _meta_charset(data) or charset
            markup = decode_bytes(data, charset, "html body", self.defects)
            if not _ANY_TAG.search(markup):
                self.defects.append("text/html part without any tags read as plain text")
                return html.unescape(markup)
            return html_to_text(markup)
        return decode_bytes(data, charset, "body", self.defects)

    def _filename(self, ctype: _Params, disposition: _Params) -> str | None:
        for params, name in ((disposition, "filename"), (ctype, "name")):
            value = _param_text(params, name, self.defects, "attachment name")
            if value:
                value = re.split(r"[\\/]", value)[-1].strip()
                if value and value not in (".", ".."):
                    return value
        return None

    def _attach(self, part: Message, kind: str, filename: str | None, disposition: _Params,
                headers: list[tuple[str, str]]) -> None:
        data = _payload_bytes(part, self.defects)
        if not filename:
            filename = f"附件{len(self.attachments) + 1}{_extension(kind)}"
        inline = disposition.kind == "inline" or _first(headers, "content-id") is not None
        self.attachments.append(MailAttachment(filename, kind, data, inline))


def _default_is_message(part: Message) -> bool:
    try:
        return part.get_default_type() == "message/rfc822"
    except (MemoryError, RecursionError):
        raise
    except Exception:
        return False


def _is_multipart(part: Message) -> bool:
    try:
        return part.is_multipart() and isinstance(part.get_payload(), list)
    except (MemoryError, RecursionError):
        raise
    except Exception:
        return False


_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=\s]")


def _payload_bytes(part: Message, defects: list[str] | None = None) -> bytes:
    """The decoded payload; raw bytes when a declared base64 body is plainly not base64."""
    # get_payload() without decode=True would re-decode 8-bit text with the declared charset
    # (replacing what does not fit); the raw, surrogate-escaped payload keeps the bytes intact.
    payload = getattr(part, "_payload", None)
    raw = _to_bytes(payload) if isinstance(payload, str) else None
    cte = _first(_raw_headers(part), "content-transfer-encoding") or ""
    if raw is not None and "base64" in cte.lower():
        junk = len(_NOT_BASE64.findall(raw[:65536]))
        if junk > 8 and junk * 20 > min(len(raw), 65536):
            if defects is not None:
                defects.append("declared base64 body is not base64; raw bytes used")
            return raw
    try:
        data = part.get_payload(decode=True)
    except (MemoryError, RecursionError):
        raise
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    if raw is not None:
        return raw
    if isinstance(payload, list):
        try:
            return b"".join(bytes(p) for p in payload if isinstance(p, Message))
        except (MemoryError, RecursionError):
            raise
        except Exception:
            return b""
    return b""


def _meta_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:65536])
    return match.group(1).decode("ascii") if match else None


# ---------------------------------------------------------------------------------------------
# Raw repair and the entry point
# ---------------------------------------------------------------------------------------------

_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_OPEN_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*$")
_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")


def _repair_headers(raw: bytes, defects: list[str]) -> bytes:
    """Join stray header lines (a folded line that lost its indent) to the previous header."""
    end = _END_OF_HEADERS.search(raw)
    head, rest = (raw[:end.start()], raw[end.start():]) if end else (raw, b"")
    lines = head.split(b"\n")
    if len(lines) > 5000:
        return raw
    later_header = [False] * (len(lines) + 1)
    for index in range(len(lines) - 1, -1, -1):
        later_header[index] = later_header[index + 1] or bool(_HEADER_LINE.match(lines[index]))
    out: list[bytes] = []
    changed = False
    for index, line in enumerate(lines):
        bare = line.rstrip(b"\r")
        if (not out or bare[:1] in (b" ", b"\t") or _HEADER_LINE.match(bare)
                or (index == 0 and bare.startswith(b"From ")) or not later_header[index + 1]):
            out.append(line)
            continue
        previous = out[-1].rstrip(b"\r")
        if _OPEN_WORD.search(previous):
            out[-1] = previous + bare.strip() + (b"\r" if out[-1].endswith(b"\r") else b"")
        else:
            out.append(b" " + line)
        changed = True
    if not changed:
        return raw
    defects.append("header line without a field name joined to the previous header")
    return b"\n".join(out) + rest


def _defect_names(message: Message) -> list[str]:
    """Class names of the parser's defects, all parts (iterative: nesting may be deep)."""
    names: list[str] = []
    stack = [message]
    while stack:
        part = stack.pop()
        names.extend(type(defect).__name__ for defect in getattr(part, "defects", []))
        payload = getattr(part, "_payload", None)
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
    return names


def _dedupe(items: list[str]) -> tuple[str, ...]:
    """Distinct notes in order, printable and encodable, at most 100 of 300 characters each."""
    clean = (item.encode("utf-8", "backslashreplace").decode("utf-8")[:300] for item in items)
    return tuple(dict.fromkeys(item for item in clean if item))[:100]


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse raw RFC 5322 bytes into readable parts; never raises (except MemoryError)."""
    try:
        return _parse(bytes(raw))
    except MemoryError:
        raise
    except Exception as exc:  # last resort: keep the bytes readable as text
        defects = [f"parser failed ({type(exc).__name__}); whole message treated as text"]
        try:
            text = normalise_text(decode_bytes(bytes(raw), None, "message", defects))
        except MemoryError:
            raise
        except Exception:
            text = normalise_text(bytes(raw).decode(_GB_FAMILY, "replace"))
        return ParsedMail("", "", "", "", "", text, False, (), MappingProxyType({}),
                          _dedupe(defects))


def _parse(raw: bytes) -> ParsedMail:
    defects: list[str] = []
    repaired = _repair_headers(raw, defects)
    try:
        message = email.message_from_bytes(repaired, policy=email.policy.default)
        nested = True
    except RecursionError:
        message = BytesParser(policy=email.policy.default).parsebytes(repaired, headersonly=True)
        defects.append("MIME nesting too deep for the parser; body treated as text")
        nested = False
    defects.extend(_defect_names(message))
    headers = _raw_headers(message)

    subject_raw = _first(headers, "subject")
    subject = decode_header_value(subject_raw, defects, "subject") if subject_raw else ""
    from_name, from_address = _parse_address(_first(headers, "from"), defects, "from")
    kept: dict[str, str] = {}
    for name in KEPT_HEADERS:
        value = _first(headers, name)
        if value is not None:
            kept[name] = decode_header_value(value, defects, name)
    date_raw = _first(headers, "date")

    date = decode_header_value(date_raw, defects, "date") if date_raw else ""
    walker = _Walker(defects=defects)
    if nested:
        segments = walker.body(message, 0)
    else:
        body = decode_bytes(_payload_bytes(message), None, "body", defects)
        segments = [_Segment("plain", body)]
    used = {seg.kind for seg in segments if seg.text.strip()}
    text = normalise_text("\n\n".join(seg.text for seg in segments))
    return ParsedMail(
        subject=subject,
        from_address=from_address,
        from_name=from_name,
        message_id=_msg_id(_first(headers, "message-id"), defects),
        in_reply_to=_msg_id(_first(headers, "in-reply-to"), defects),
        text=text,
        html_only="html" in used and "plain" not in used,
        attachments=tuple(walker.attachments),
        headers=MappingProxyType(kept),
        defects=_dedupe(defects),
        date=date,
    )
