"""The optional second factor: time-based one-time codes (RFC 6238) from an authenticator app.

The secret is sealed with the keyring, bound to its account, and stays pending until the staff
member confirms it with a code. A code counts once: the last accepted time step is stored and
only a later one is taken, by a conditional update that two parallel requests cannot both win.
"""

from __future__ import annotations

import hmac
import unicodedata
from datetime import datetime

import pyotp
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from intake.protect import Keyring
from intake.store import models as m

STEP_SECONDS = 30
DIGITS = 6
# Codes from the step before and after are accepted too: phone clocks drift.
DRIFT_STEPS = 1


def new_secret() -> str:
    """160 random bits in base32, as authenticator apps expect."""
    return pyotp.random_base32(32)


def seal_secret(keyring: Keyring, user_id: int, secret: str) -> bytes:
    return keyring.seal(secret.encode("ascii"), _context(user_id))


def open_secret(keyring: Keyring, user: m.StaffUser) -> str:
    if user.totp_secret is None:
        raise LookupError(user.id)
    return keyring.unseal(user.totp_secret, _context(user.id)).decode("ascii")


def _context(user_id: int) -> bytes:
    return f"totp-secret:{user_id}".encode()


def otpauth_uri(secret: str, username: str, issuer: str) -> str:
    """What the QR code carries: the key URI format authenticator apps read."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=issuer)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def normalise_code(code: str) -> str:
    """Digits only (full-width digits and spaces allowed when typing)."""
    return "".join(c for c in unicodedata.normalize("NFKC", code) if not c.isspace())


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code is `code` (now, or one step either side), else None."""
    code = normalise_code(code)
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current, current - DRIFT_STEPS, current + DRIFT_STEPS):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def db_use_code(session: Session, keyring: Keyring, user: m.StaffUser, code: str,
                now: datetime) -> bool:
    """True when `code` is valid for the user's secret and its time step was not used yet.

    Marks the step used (the caller commits). Works for a pending secret too (enrolment).
    """
    if user.totp_secret is None:
        return False
    step = matching_step(open_secret(keyring, user), code, now)
    if step is None:
        return False
    won = session.execute(
        update(m.StaffUser)
        .where(m.StaffUser.id == user.id,
               or_(m.StaffUser.totp_last_step.is_(None), m.StaffUser.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won:
        user.totp_last_step = step
    return bool(won)


def db_pending_secret(session: Session, keyring: Keyring, user: m.StaffUser) -> str:
    """The secret being enrolled: the pending one, or a new one stored sealed (caller commits).

    A confirmed second factor is never replaced here: only an administrator's reset clears it.
    """
    if user.totp_confirmed_at is not None:
        raise ValueError("second factor already confirmed")
    if user.totp_secret is not None:
        return open_secret(keyring, user)
    secret = new_secret()
    user.totp_secret = seal_secret(keyring, user.id, secret)
    user.totp_last_step = None
    return secret


def db_clear(user: m.StaffUser) -> None:
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
