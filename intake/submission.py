"""The one normalised record every channel produces, and the receipt it gets back.

Channels (web form, API, e-mail, hotline, scans) build a `Submission` and hand it to
`intake.pipeline.ingest`; nothing else about a channel reaches the core.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from intake.protect import Identity
from intake.store.models import CHANNELS

CATEGORIES = {
    "political": "政治纪律",
    "organizational": "组织纪律",
    "integrity": "廉洁纪律",
    "mass": "群众纪律",
    "work": "工作纪律",
    "life": "生活纪律",
    "other": "其他",
}


class IntakeError(Exception):
    """Base of the core's domain errors; edges translate them for their audience."""


class InvalidSubmissionError(IntakeError):
    """A field of a submission is missing or invalid; `message` is Chinese, for the reporter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AttachmentRejectedError(InvalidSubmissionError):
    """An attachment is too large, too many, or not of an allowed type."""


class AttachmentTooLargeError(AttachmentRejectedError):
    """An attachment is over the size limit (told apart: HTTP answers it with 413)."""


class CaseNotFoundError(IntakeError):
    """No case matches this query code and password (the two are never told apart)."""


@dataclass(frozen=True)
class IncomingFile:
    """A received file, readable once from `stream` (a spooled temp file, a path, bytes)."""

    filename: str
    stream: BinaryIO


@dataclass(frozen=True)
class Submission:
    """What a channel received, before the service decides anything about it."""

    channel: str
    received_at: datetime
    text: str
    password: str
    title: str = ""
    subject_name: str = ""
    subject_unit: str = ""
    subject_post: str = ""
    category: str = ""
    anonymous: bool = True
    identity: Identity = field(default_factory=Identity)
    attachments: tuple[IncomingFile, ...] = ()
    suspected_bot: bool = False
    # The round it is filed under (None: the one open round, see RoundRegistry.default), and
    # where a web report came from when its link says so (a suggestion box's poster).
    round_id: int | None = None
    via: str = ""

    def hints(self) -> dict[str, str]:
        """What the reporter said in separate fields, as hints for the classifier."""
        pairs = {
            "subject_name": self.subject_name,
            "subject_unit": self.subject_unit,
            "subject_post": self.subject_post,
            "category": self.category,
        }
        return {k: v for k, v in pairs.items() if v}


@dataclass(frozen=True)
class Receipt:
    """Given to the reporter after the commit: the query code is shown once, never stored."""

    submission_id: int
    code: str
    received_at: datetime
    late: bool


def clean_text(value: str) -> str:
    """NFC, no control characters but newlines and tabs, trimmed; keeps the reporter's words."""
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        ch for ch in value if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
    ).strip()


def check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise InvalidSubmissionError("channel", f"未知渠道 {channel}")


