"""Proof-of-work challenges: how the service slows bulk senders without refusing anyone.

Many reporters share one carrier NAT address, so a hard cap per address would lock out a whole
village. Instead, past an unusual volume from one address, a submission must carry the solution
of a small hashcash-style puzzle: find a nonce such that SHA-256 of `challenge:nonce` starts with
`bits` zero bits. A person's browser solves it in a few seconds; a bulk sender pays for every
item. This module owns the puzzle itself (pure functions, no storage, no HTTP): the difficulty for
a volume, issuing a signed challenge, and checking a solution. Remembering volumes and used
challenges is the web edge's job.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

VERSION = "v1"
MAX_NONCE_CHARS = 32


class WorkError(ValueError):
    """A proof-of-work solution that does not count; `reason` says why (for tests and docs)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Challenge:
    """A signed puzzle: `token` is what the client hashes, `bits` how many zero bits it needs."""

    token: str
    bits: int
    expires_at: int
    serial: str  # random, names the challenge so that a solution is used once


def required_bits(volume: int, *, threshold: int, min_bits: int, max_bits: int) -> int:
    """Zero bits asked of the next submission after `volume` recent ones from one address.

    None below the threshold; `min_bits` at it; two more bits (four times the work) each time
    the volume doubles; never more than `max_bits`, so a person is never refused, only slowed.
    """
    if volume < threshold:
        return 0
    doublings = (volume // max(threshold, 1)).bit_length() - 1
    return min(max_bits, min_bits + 2 * doublings)


def issue(secret: bytes, bits: int, *, lifetime: int, now: float | None = None) -> Challenge:
    """A new challenge of `bits`, valid for `lifetime` seconds, signed with `secret`."""
    expires = int((time.time() if now is None else now) + lifetime)
    serial = secrets.token_hex(16)
    body = f"{VERSION}.{bits}.{expires}.{serial}"
    return Challenge(f"{body}.{_sign(secret, body)}", bits, expires, serial)


def verify(secret: bytes, token: str, nonce: str, *, now: float | None = None) -> Challenge:
    """The challenge `token` if `nonce` solves it and it is ours and unexpired; else WorkError.

    Whether it was used before is not known here: the caller remembers `serial`.
    """
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != VERSION or not parts[1].isdigit() or not parts[2].isdigit():
        raise WorkError("malformed")
    body, signature = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(_sign(secret, body), signature):
        raise WorkError("forged")
    challenge = Challenge(token, int(parts[1]), int(parts[2]), parts[3])
    if challenge.expires_at < (time.time() if now is None else now):
        raise WorkError("expired")
    if not nonce or len(nonce) > MAX_NONCE_CHARS or not nonce.isascii():
        raise WorkError("unsolved")
    if leading_zero_bits(hashlib.sha256(f"{token}:{nonce}".encode()).digest()) < challenge.bits:
        raise WorkError("unsolved")
    return challenge


def solve(token: str, bits: int) -> str:
    """Find a nonce for `token` (what the page's script does; used by tests and API clients)."""
    counter = 0
    while True:
        nonce = str(counter)
        if leading_zero_bits(hashlib.sha256(f"{token}:{nonce}".encode()).digest()) >= bits:
            return nonce
        counter += 1


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def _sign(secret: bytes, body: str) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]
