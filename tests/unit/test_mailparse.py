"""parse_mail on hand-made messages: charsets, broken headers, MIME structure, attachments."""

from __future__ import annotations

import base64
import quopri
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.mailparse import FORWARD_MARK, ParsedMail, decode_bytes, parse_mail

REPORT = "东岭村党支部书记刘德福把低保名额给了自己的亲戚，村里的账目三年没有公开。"
TRADITIONAL = "西坡村村長把扶貧款挪作他用，請巡察組派人調查。"


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def word(text: str, charset: str = "gb2312", kind: str = "B") -> bytes:
    """An RFC 2047 encoded word."""
    data = text.encode(charset)
    payload = b64(data) if kind == "B" else quopri.encodestring(data, header=True)
    return b"=?" + charset.encode() + b"?" + kind.encode() + b"?" + payload + b"?="


def message(*headers: bytes, body: bytes = b"", crlf: bool = False) -> bytes:
    """Raw message bytes from header lines and a body."""
    eol = b"\r\n" if crlf else b"\n"
    return eol.join(headers) + eol + eol + body.replace(b"\n", eol)


def simple(body: bytes, charset: bytes | None, *extra: bytes, subject: bytes = b"test") -> bytes:
    ctype = b"Content-Type: text/plain" + (b"; charset=" + charset if charset else b"")
    return message(b"From: a@example.cn", b"Subject: " + subject, b"MIME-Version: 1.0", ctype,
                   b"Content-Transfer-Encoding: 8bit", *extra, body=body)


def assert_clean(mail: ParsedMail) -> None:
    for value in (mail.subject, mail.text, mail.from_name, *mail.headers.values()):
        assert "\ufffd" not in value
        value.encode("utf-8")


# --- charsets ------------------------------------------------------------------------------


@pytest.mark.parametrize("label", [b"gb2312", b"GB2312", b"euc-cn", b"EUC-CN", b"gbk", b"x-gbk",
                                   b"cp936", b"GB18030", b'"gb2312"'])
def test_gb_family_labels_decode_as_gb18030(label: bytes) -> None:
    # 镕 is GBK-only (not in GB2312): mail labelled GB2312 routinely carries it.
    text = REPORT + "朱镕基"
    mail = parse_mail(simple(text.encode("gbk"), label))
    assert mail.text == text
    assert not any("guessed" in d for d in mail.defects)


def test_gb18030_four_byte_characters() -> None:
    text = "村民吉𠮷反映情况"
    assert parse_mail(simple(text.encode("gb18030"), b"gb2312")).text == text


@pytest.mark.parametrize(("label", "encoding", "text"), [
    (b"big5", "big5", TRADITIONAL),
    (b"BIG5", "big5hkscs", TRADITIONAL + "喆"),  # HKSCS character
    (b"big5", "cp950", TRADITIONAL + "價值€五百"),  # CP950 extension
    (b"big5-hkscs", "big5hkscs", TRADITIONAL),
])
def test_big5_decodes_with_superset(label: bytes, encoding: str, text: str) -> None:
    assert parse_mail(simple(text.encode(encoding), label)).text == text


def test_utf8_body_and_subject() -> None:
    raw = simple(REPORT.encode(), b"utf-8", subject=word("举报低保问题", "utf-8"))
    mail = parse_mail(raw)
    assert (mail.subject, mail.text) == ("举报低保问题", REPORT)


@pytest.mark.parametrize("label", [b'"charset="GB2312""', b"'gb2312'", b"GB2312_CHARSET",
                                   b"gb2312_charset", b'"gb2312'])
def test_malformed_labels_seen_in_real_mail(label: bytes) -> None:
    mail = parse_mail(simple(REPORT.encode("gb2312"), label))
    assert mail.text == REPORT
    assert any("malformed charset label" in d for d in mail.defects)


@pytest.mark.parametrize("label", [b"x-unknown", b"unknown-8bit", None, b"no-such-charset"])
def test_unknown_or_missing_label_is_detected(label: bytes | None) -> None:
    mail = parse_mail(simple(REPORT.encode("gb2312"), label))
    assert mail.text == REPORT
    assert any("charset guessed gb18030 for body" in d for d in mail.defects)


@pytest.mark.parametrize("label", [b"iso-8859-1", b"us-ascii", b"windows-1252", b"latin1"])
def test_western_label_on_chinese_bytes(label: bytes) -> None:
    mail = parse_mail(simple(REPORT.encode("gb2312"), label))
    assert mail.text == REPORT
    assert any("charset guessed gb18030" in d for d in mail.defects)


def test_western_label_on_big5_and_utf8_bytes() -> None:
    assert parse_mail(simple(TRADITIONAL.encode("big5"), b"iso-8859-1")).text == TRADITIONAL
    assert parse_mail(simple(REPORT.encode(), b"us-ascii")).text == REPORT


def test_genuine_latin1_stays_latin1() -> None:
    text = "Café déjà vu, naïve résumé à Noël."
    assert parse_mail(simple(text.encode("latin-1"), b"iso-8859-1")).text == text


def test_gb_label_on_utf8_bytes_prefers_utf8() -> None:
    mail = parse_mail(simple(REPORT.encode(), b"gb2312"))
    assert mail.text == REPORT
    assert any("charset guessed utf-8" in d for d in mail.defects)


def test_big5_label_on_gb_bytes() -> None:
    mail = parse_mail(simple(REPORT.encode("gb2312"), b"big5"))
    assert mail.text == REPORT
    assert any("charset guessed gb18030" in d for d in mail.defects)


def test_invalid_bytes_fall_back_with_replacement() -> None:
    data = REPORT.encode("gb2312") + b"\xff\xfe\x80" + "请调查".encode("gb2312")
    mail = parse_mail(simple(data, b"gb2312"))
    assert mail.text.startswith(REPORT) and mail.text.endswith("请调查")
    assert any("undecodable bytes in body" in d for d in mail.defects)


def test_quoted_printable_and_base64_bodies() -> None:
    qp = quopri.encodestring(REPORT.encode("gb2312"))
    raw = message(b"Subject: x", b"Content-Type: text/plain; charset=gb2312",
                  b"Content-Transfer-Encoding: quoted-printable", body=qp)
    assert parse_mail(raw).text == REPORT
    raw = message(b"Subject: x", b"Content-Type: text/plain; charset=gb2312",
                  b"Content-Transfer-Encoding: base64", body=b64(REPORT.encode("gb2312")))
    assert parse_mail(raw).text == REPORT


def test_declared_base64_body_that_is_raw_8bit() -> None:
    raw = message(b"Subject: x", b"Content-Type: text/plain; charset=gb2312",
                  b"Content-Transfer-Encoding: base64", body=REPORT.encode("gb2312") * 3)
    mail = parse_mail(raw)
    assert mail.text == REPORT * 3
    assert "declared base64 body is not base64; raw bytes used" in mail.defects


def test_decode_bytes_directly() -> None:
    defects: list[str] = []
    assert decode_bytes("巡察组".encode("gbk"), "x-gbk", "test", defects) == "巡察组"
    assert decode_bytes(b"plain ascii", "zlib", "test", defects) == "plain ascii"
    assert any("unknown charset label 'zlib'" in d for d in defects)


# --- headers -------------------------------------------------------------------------------


def test_rfc2047_b_and_q_words() -> None:
    raw = simple(b"x", b"us-ascii", subject=b"Re: " + word("反映村干部问题", kind="Q"))
    assert parse_mail(raw).subject == "Re: 反映村干部问题"
    raw = simple(b"x", b"us-ascii", subject=word("反映村干部问题", "gbk"))
    assert parse_mail(raw).subject == "反映村干部问题"


def test_adjacent_encoded_words_without_whitespace_and_split_characters() -> None:
    data = "关于镇政府挪用补贴的举报".encode("gb2312")
    first, second = data[:5], data[5:]  # splits a two-byte character
    subject = (b"=?gb2312?B?" + b64(first) + b"?==?gb2312?B?" + b64(second) + b"?=")
    assert parse_mail(simple(b"x", None, subject=subject)).subject == "关于镇政府挪用补贴的举报"
    folded = b"=?gb2312?B?" + b64(first) + b"?=\n =?GB2312?B?" + b64(second) + b"?="
    assert parse_mail(simple(b"x", None, subject=folded)).subject == "关于镇政府挪用补贴的举报"


def test_encoded_word_glued_to_text() -> None:
    raw = simple(b"x", None, subject=b"Re:" + word("举报") + b"(urgent)")
    assert parse_mail(raw).subject == "Re:举报(urgent)"


def test_wrong_charset_label_in_encoded_word() -> None:
    text = "青山镇东岭村村委会主任刘德福侵占集体土地补偿款"  # GB bytes labelled Big5
    raw = simple(b"x", None, subject=b"=?big5?B?" + b64(text.encode("gb2312")) + b"?=")
    assert parse_mail(raw).subject == text


def test_broken_base64_padding_and_unterminated_word() -> None:
    payload = b64("举报信".encode("gb2312")).rstrip(b"=")
    assert parse_mail(simple(b"x", None, subject=b"=?gb2312?B?" + payload + b"?=")).subject \
        == "举报信"
    mail = parse_mail(simple(b"x", None, subject=b"=?gb2312?B?" + b64("举报信".encode("gb2312"))))
    assert mail.subject == "举报信"
    assert "unterminated encoded word in subject" in mail.defects


@pytest.mark.parametrize("encoding", ["gbk", "utf-8", "big5"])
def test_raw_8bit_subject(encoding: str) -> None:
    text = "反映西坡村村主任违规问题" if encoding != "big5" else "反映西坡村村長違規問題"
    mail = parse_mail(simple(b"x", None, subject=text.encode(encoding)))
    assert mail.subject == text
    assert "raw 8-bit bytes in subject" in mail.defects


def test_from_display_names() -> None:
    raw = message(b"From: " + word("张建国") + b" <Zhang.JG@Example.CN>", b"Subject: x",
                  body=b"x")
    mail = parse_mail(raw)
    assert (mail.from_name, mail.from_address) == ("张建国", "zhang.jg@example.cn")
    raw = message("From: 中国教学网<info@jiaoxue.example>".encode("gbk"), body=b"x")
    assert parse_mail(raw).from_name == "中国教学网"
    raw = message(b'From: "' + word("李四", "utf-8") + b'" <li@example.cn>', body=b"x")
    assert parse_mail(raw).from_name == "李四"
    raw = message(b'From: li@example.cn=2Ecom?=" <service@example.com>', body=b"x")
    assert parse_mail(raw).from_address == "service@example.com"
    assert parse_mail(message(b"From: nobody", body=b"x")).from_address == ""
    assert parse_mail(message(b"Subject: x", body=b"x")).from_address == ""


def test_ids_and_kept_headers() -> None:
    raw = message(
        b"From: a@example.cn", b"Subject: x", b"Message-ID: <abc@example.cn>",
        b"In-Reply-To: <prev@example.cn> (earlier)", b"Precedence: bulk",
        b"X-Spam-Flag: YES", b"X-Spam-Flag: NO", b"List-Unsubscribe: <mailto:u@example.cn>",
        b"Reply-To: " + word("办公室") + b" <office@example.cn>", b"Received: from x",
        b"Content-Type: text/plain; charset=utf-8", b"Date: Tue, 10 Mar 2026 09:30:00 +0800",
        body=b"x")
    mail = parse_mail(raw)
    assert mail.message_id == "<abc@example.cn>"
    assert mail.in_reply_to == "<prev@example.cn>"
    assert mail.date == "Tue, 10 Mar 2026 09:30:00 +0800"
    assert dict(mail.headers) == {
        "precedence": "bulk", "x-spam-flag": "YES",
        "list-unsubscribe": "<mailto:u@example.cn>", "reply-to": "办公室 <office@example.cn>",
        "content-type": "text/plain; charset=utf-8",
    }


def test_folded_line_that_lost_its_indent_is_rejoined() -> None:
    payload = b64("问下,如果对某一干部反映多次都没有回音怎么办".encode("gb2312"))
    raw = (b"From: a@example.cn\nSubject: =?gb2312?B?" + payload[:20] + b"\n" + payload[20:]
           + b"?=\nX-Mailer: Foxmail\nContent-Type: text/plain; charset=gb2312\n\n"
           + REPORT.encode("gb2312"))
    mail = parse_mail(raw)
    assert mail.subject == "问下,如果对某一干部反映多次都没有回音怎么办"
    assert mail.headers["x-mailer"] == "Foxmail"
    assert mail.text == REPORT


# --- structure -----------------------------------------------------------------------------


def multipart(subtype: bytes, *parts: bytes, boundary: bytes = b"BOUNDARY") -> bytes:
    body = b"".join(b"--" + boundary + b"\n" + part + b"\n" for part in parts)
    return message(b"From: a@example.cn", b"Subject: x", b"MIME-Version: 1.0",
                   b"Content-Type: multipart/" + subtype + b'; boundary="' + boundary + b'"',
                   body=b"This is a multi-part message in MIME format.\n\n" + body
                   + b"--" + boundary + b"--\n")


def part(ctype: bytes, body: bytes, *extra: bytes) -> bytes:
    return b"\n".join([b"Content-Type: " + ctype, *extra]) + b"\n\n" + body


HTML = ("<html><head><meta charset=\"gb2312\"><style>p {color: red}</style></head><body>"
        "<p>尊敬的巡察组：</p><p>" + REPORT + "</p><table><tr><td>姓名</td><td>刘德福</td></tr>"
        "</table></body></html>")


def test_html_only_body_uses_meta_charset() -> None:
    raw = message(b"Subject: x", b"Content-Type: text/html", body=HTML.encode("gb2312"))
    mail = parse_mail(raw)
    assert mail.html_only
    assert mail.text == f"尊敬的巡察组：\n\n{REPORT}\n\n姓名 刘德福"
    assert "color" not in mail.text


def test_html_part_without_tags_keeps_its_lines() -> None:
    raw = message(b"Subject: x", b"Content-Type: text/html; charset=gb2312",
                  body=("第一行\n第二行 &amp; 第三行").encode("gb2312"))
    mail = parse_mail(raw)
    assert (mail.text, mail.html_only) == ("第一行\n第二行 & 第三行", True)


def test_alternative_prefers_plain_then_html() -> None:
    raw = multipart(b"alternative",
                    part(b"text/plain; charset=gb2312", ("纯文本：" + REPORT).encode("gb2312")),
                    part(b"text/html; charset=gb2312", HTML.encode("gb2312")))
    mail = parse_mail(raw)
    assert (mail.text, mail.html_only) == ("纯文本：" + REPORT, False)
    raw = multipart(b"alternative", part(b"text/plain; charset=gb2312", b"\n  \n"),
                    part(b"text/html; charset=gb2312", HTML.encode("gb2312")))
    mail = parse_mail(raw)
    assert mail.html_only and mail.text.startswith("尊敬的巡察组：")


def test_mixed_joins_text_parts_and_keeps_attachments() -> None:
    image = b"\xff\xd8\xff\xe0" + bytes(range(256))
    txt = "附件里的说明".encode("gbk")
    raw = multipart(
        b"mixed",
        part(b"text/plain; charset=gbk", "第一部分".encode("gbk")),
        part(b"text/plain; charset=utf-8", "第二部分".encode(), b"Content-Disposition: inline"),
        part(b"text/plain; charset=gbk", txt,
             b"Content-Disposition: attachment; filename*=UTF-8''" + quote("说明.txt").encode()),
        part(b"image/jpeg", b64(image), b"Content-Transfer-Encoding: base64"),
    )
    mail = parse_mail(raw)
    assert mail.text == "第一部分\n\n第二部分"
    assert [(a.filename, a.content_type, a.inline) for a in mail.attachments] == [
        ("说明.txt", "text/plain", False), ("附件2.jpg", "image/jpeg", False)]
    assert mail.attachments[0].data == txt
    assert mail.attachments[1].data == image


@pytest.mark.parametrize(("disposition", "expected"), [
    (b"Content-Disposition: attachment; filename*=UTF-8''" + quote("照片 一.jpg").encode(),
     "照片 一.jpg"),
    (b"Content-Disposition: attachment; filename*=gbk'zh'" + quote("举报材料.doc".encode("gbk")
                                                                   ).encode(), "举报材料.doc"),
    (b"Content-Disposition: attachment;\n filename*0*=utf-8''" + quote("村务").encode()
     + b";\n filename*1*=" + quote("公开表").encode() + b";\n filename*2=.xls", "村务公开表.xls"),
    (b'Content-Disposition: attachment; filename="' + word("账目照片.png") + b'"',
     "账目照片.png"),
    (b'Content-Disposition: attachment; filename="' + "低保名单.pdf".encode("gbk") + b'"',
     "低保名单.pdf"),
    (b'Content-Disposition: attachment; filename="C:\\\\Users\\\\x\\\\' + word("证据.zip")
     + b'"', "证据.zip"),
    (b"Content-Disposition: attachment", "附件1.pdf"),
])
def test_attachment_names(disposition: bytes, expected: str) -> None:
    raw = multipart(b"mixed", part(b"text/plain; charset=utf-8", b"see attachment"),
                    part(b"application/pdf", b64(b"%PDF-1.4"), disposition,
                         b"Content-Transfer-Encoding: base64"))
    mail = parse_mail(raw)
    assert [a.filename for a in mail.attachments] == [expected]
    assert mail.attachments[0].data == b"%PDF-1.4"


def test_name_parameter_of_content_type() -> None:
    raw = multipart(b"mixed", part(b'image/png; name="' + word("现场.png", "utf-8") + b'"',
                                   b64(b"\x89PNG"), b"Content-Transfer-Encoding: base64"))
    assert [a.filename for a in parse_mail(raw).attachments] == ["现场.png"]


def test_inline_image_with_content_id() -> None:
    related = (b'Content-Type: multipart/related; boundary="REL"\n\n--REL\n'
               + part(b"text/html; charset=utf-8",
                      ('<p>见图：<img src="cid:img1@x"></p><p>' + REPORT + "</p>").encode())
               + b"\n--REL\n"
               + part(b"image/gif", b64(b"GIF89a"), b"Content-ID: <img1@x>",
                      b"Content-Transfer-Encoding: base64")
               + b"\n--REL--\n")
    raw = multipart(b"alternative", part(b"text/plain; charset=utf-8", REPORT.encode()), related)
    mail = parse_mail(raw)
    assert mail.text == REPORT and not mail.html_only
    assert [(a.filename, a.content_type, a.inline, a.data) for a in mail.attachments] == [
        ("附件1.gif", "image/gif", True, b"GIF89a")]


def test_missing_boundary_treats_body_as_text() -> None:
    raw = message(b"Subject: x", b'Content-Type: multipart/mixed; boundary="never-used"',
                  body=REPORT.encode("gb2312"))
    mail = parse_mail(raw)
    assert mail.text == REPORT
    assert "multipart boundary not found; whole body treated as text" in mail.defects
    assert "StartBoundaryNotFoundDefect" in mail.defects


def test_forwarded_message_is_a_block_with_its_attachments() -> None:
    inner = message(b"From: " + word("王会计") + b" <wang@example.cn>",
                    b"Subject: " + word("村账目"), b"Date: Mon, 2 Mar 2026 10:00:00 +0800",
                    b'Content-Type: multipart/mixed; boundary="IN"',
                    body=b"--IN\n" + part(b"text/plain; charset=gb2312", REPORT.encode("gb2312"))
                    + b"\n--IN\n"
                    + part(b"image/jpeg", b64(b"\xff\xd8jpeg"),
                           b"Content-Transfer-Encoding: base64",
                           b'Content-Disposition: attachment; filename="zhang.jpg"')
                    + b"\n--IN--\n")
    raw = multipart(b"mixed", part(b"text/plain; charset=utf-8", "请看下面转发的邮件。".encode()),
                    part(b"message/rfc822", inner))
    mail = parse_mail(raw)
    assert mail.text == ("请看下面转发的邮件。\n\n" + FORWARD_MARK
                         + "\n发件人：王会计 <wang@example.cn>"
                         + "\n日期：Mon, 2 Mar 2026 10:00:00 +0800\n主题：村账目\n\n" + REPORT)
    assert [(a.filename, a.data) for a in mail.attachments] == [("zhang.jpg", b"\xff\xd8jpeg")]


def test_body_normalisation() -> None:
    body = "  第一行  \n第二行\t\n\n\n\n\n第三行 \n\n".encode("gb2312")
    raw = message(b"Subject: x", b"Content-Type: text/plain; charset=gb2312", body=body,
                  crlf=True)
    assert b"\r\n" in raw
    assert parse_mail(raw).text == "第一行\n第二行\n\n\n第三行"
    raw = message(b"Subject: x", b"Content-Type: text/plain; charset=utf-8",
                  body="甲\r乙\n\n\n丙".encode())
    assert parse_mail(raw).text == "甲\n乙\n\n\n丙"


def test_no_body_and_empty_input() -> None:
    mail = parse_mail(b"")
    assert (mail.subject, mail.text, mail.attachments, mail.from_address) == ("", "", (), "")
    assert parse_mail(b"Subject: only headers").subject == "only headers"


def test_deep_nesting_does_not_lose_the_text() -> None:
    raw = b"Subject: deep\n" + b"Content-Type: message/rfc822\n\n" * 60 + b"Subject: x\n\nhello"
    mail = parse_mail(raw)
    assert mail.subject == "deep" and mail.text.endswith("hello")


# --- never raises --------------------------------------------------------------------------

SAMPLES = [
    simple(REPORT.encode("gbk"), b'"charset="GB2312""', subject=word("举报")),
    simple(TRADITIONAL.encode("big5"), b"big5", subject="反映問題".encode("big5")),
    multipart(b"mixed", part(b"text/plain; charset=gb2312", REPORT.encode("gb2312")),
              part(b"application/pdf", b64(b"%PDF"), b"Content-Transfer-Encoding: base64",
                   b"Content-Disposition: attachment; filename*=UTF-8''%E8%AF%81.pdf")),
    multipart(b"alternative", part(b"text/html", HTML.encode("gb2312")),
              part(b"message/rfc822", simple(b"inner", b"utf-8"))),
    message(b"Subject: x", b'Content-Type: multipart/mixed; boundary="none"', body=b"\xb0\xa1"),
]


def check(mail: ParsedMail) -> None:
    assert isinstance(mail, ParsedMail)
    for value in (mail.subject, mail.from_address, mail.from_name, mail.message_id,
                  mail.in_reply_to, mail.text, mail.date, *mail.defects, *mail.headers.keys(),
                  *mail.headers.values(), *(a.filename for a in mail.attachments)):
        assert isinstance(value, str)
        value.encode("utf-8")  # no lone surrogates anywhere
    assert all(a.filename for a in mail.attachments)
    assert all(isinstance(a.data, bytes) for a in mail.attachments)


def test_samples_parse_cleanly() -> None:
    for raw in SAMPLES:
        mail = parse_mail(raw)
        check(mail)
        assert_clean(mail)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000))
def test_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    check(parse_mail(raw))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    splices = [b"\n", b"=?", b"?=", b"=?gb2312?B?", b"--BOUNDARY\n", b"\n\n", b"\xff\xfe",
               b"Content-Type: multipart/mixed; boundary=", b"charset=", b"*0*=", b"\r",
               b"Content-Type: message/rfc822\n\n", b"Subject: \xb0\xa1=?utf-8?q?=E4?=\n"]
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "truncate", "splice"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:at + draw(st.integers(1, 40))]
        elif action == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.sampled_from(splices))
    return bytes(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_never_raises_on_mutated_messages(raw: bytes) -> None:
    check(parse_mail(raw))
