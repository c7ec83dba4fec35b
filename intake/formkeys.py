"""One public form, one item: a reload of the receipt, a double press or the back button sends
the report form again, and must neither store it twice nor hand out a second query code.

Each form page carries a random key; the item's transaction records a digest of it (never
linked to the item, so it says nothing about who sent what). A key seen before is refused
before anything is stored. Keys are kept a day: long enough for any resend.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.desk import Desk
from intake.pipeline import ingest
from intake.store import models as m
from intake.store.models import utcnow
from intake.submission import IntakeError, Receipt, Submission

KEPT = timedelta(days=1)
MAX_KEY_CHARS = 64


class FormSentTwiceError(IntakeError):
    """This form was already sent and its item stored."""


def new_form_key() -> str:
    """A key for one form page."""
    return secrets.token_urlsafe(16)


def ingest_once(desk: Desk, submission: Submission, form_key: str) -> Receipt:
    """ingest() the submission unless its form was sent before (FormSentTwiceError); a form
    without a key (an old page, a script) is taken as it comes."""
    key = form_key.strip()[:MAX_KEY_CHARS]
    if not key:
        return ingest(desk, submission)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    with desk.sessions() as session:
        if session.scalar(select(m.PublicFormKey.key_hash).where(
                m.PublicFormKey.key_hash == digest)) is not None:
            raise FormSentTwiceError()

    def record(session: Session, _row: m.Submission, _code: str) -> None:
        session.execute(delete(m.PublicFormKey).where(m.PublicFormKey.created_at
                                                      < utcnow() - KEPT))
        session.add(m.PublicFormKey(key_hash=digest))

    try:
        return ingest(desk, submission, in_transaction=record)
    except IntegrityError:
        raise FormSentTwiceError() from None  # two sends raced; the other one stored it
