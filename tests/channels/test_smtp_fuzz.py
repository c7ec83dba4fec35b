"""Property: whatever bytes arrive over SMTP are stored, or refused with a 5xx — never lost
behind a 250, never a crash of the server."""

from __future__ import annotations

import smtplib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.store import models as m
from tests.channels.test_smtp import MAILBOX, Running, chinese_mail

SEED = chinese_mail(attachment=("照片.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64)).as_bytes()


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A real message with bytes flipped, cut, spliced, or arbitrary bytes altogether."""
    kind = draw(st.sampled_from(["flip", "cut", "splice", "binary", "headers"]))
    if kind == "binary":
        return draw(st.binary(min_size=1, max_size=2000))
    data = bytearray(SEED)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 40))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif kind == "cut":
        data = data[: draw(st.integers(1, len(data)))]
    elif kind == "splice":
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(max_size=300))
    else:
        lines = draw(st.lists(st.sampled_from([
            b"Subject: =?gb2312?B?" + draw(st.binary(max_size=20)) + b"?=",
            b"Content-Type: multipart/mixed; boundary=\"" + draw(st.binary(max_size=10)) + b"\"",
            b"Content-Transfer-Encoding: base64",
            b"Content-Type: text/plain; charset=" + draw(st.binary(max_size=12)),
            b"From: " + draw(st.binary(max_size=30)),
            b"Content-Disposition: attachment; filename*=gb2312''%" + draw(st.binary(max_size=8)),
        ]), max_size=6))
        data = bytearray(b"\r\n".join(lines) + b"\r\n" + bytes(data))
    return bytes(data)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=damaged())
def test_any_bytes_are_stored_or_refused_with_5xx(running: Running, raw: bytes) -> None:
    before = running.count(m.InboundMail)
    try:
        with smtplib.SMTP("127.0.0.1", running.server.port, timeout=30) as client:
            client.sendmail("fuzz@example.com", [MAILBOX], raw)
    except smtplib.SMTPResponseException as exc:
        assert 500 <= exc.smtp_code < 600, exc
        assert running.count(m.InboundMail) == before
    else:
        assert running.count(m.InboundMail) == before + 1
