"""The submission guard: proof of work past unusual volume per address, trusted API clients.

Reports and appointment requests are never refused for coming from a busy address (a village
may share one carrier NAT address). The guard counts submissions per address in the limiter's
storage (memory, or Redis shared by every process) and, past `pow_threshold`, asks each one for
a solved challenge (intake/pow.py), harder as the volume grows; a solved challenge is used once.
A trusted client (`Authorization: Bearer xczapi_...`) skips the work and has its own limit.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many
from limits.strategies import MovingWindowRateLimiter

from intake import pow
from intake.clients import authenticate_client
from intake.settings import Settings, SettingsError
from intake.store import models as m

log = logging.getLogger(__name__)

NO_SCRIPT = ("您所在的网络近期提交较多。为防止批量提交，现在需要浏览器自动完成一次简短计算"
             "（几秒钟）才能提交，这要用到 JavaScript。请开启浏览器的 JavaScript 后再次提交"
             "（仍不行的，请换用较新的浏览器）；也可以稍后再试，或拨打举报电话、来信来访反映。")
RETRY = "提交验证未通过（可能已过期或已使用过），请再次点击提交。"
HEADER_CHALLENGE = "X-Pow-Challenge"
HEADER_NONCE = "X-Pow-Nonce"
FIELD_CHALLENGE = "pow_challenge"
FIELD_NONCE = "pow_nonce"


@dataclass(frozen=True)
class WorkRequired:
    """Why a submission was not let through, with a fresh challenge to solve."""

    message: str
    reason: str  # "missing", or a WorkError reason, or "reused"
    challenge: pow.Challenge


class SubmissionGuard:
    """Per-app state: the limiter's storage and the key that signs challenges."""

    def __init__(self, limiter: Limiter, settings: Settings, session_secret: bytes) -> None:
        self.storage = limiter.storage
        self.settings = settings
        self.secret = hmac.new(session_secret, b"proof-of-work", hashlib.sha256).digest()
        self.moving = MovingWindowRateLimiter(self.storage)

    # --- anonymous submissions: work past the threshold ---------------------------------

    def bits_now(self) -> int:
        """Zero bits the next submission from this request's address must carry."""
        s = self.settings
        return pow.required_bits(self._volume(), threshold=s.pow_threshold,
                                 min_bits=s.pow_min_bits, max_bits=s.pow_max_bits)

    def challenge(self) -> pow.Challenge | None:
        """A challenge at today's difficulty for this address, or None when no work is asked."""
        bits = self.bits_now()
        if not bits:
            return None
        return pow.issue(self.secret, bits, lifetime=self.settings.pow_challenge_seconds)

    def admit(self) -> WorkRequired | None:
        """Let this submission through (and count it), or say what work it still needs."""
        bits = self.bits_now()
        if bits:
            token, nonce = _solution()
            if not token:
                return self._refuse("missing", bits)
            try:
                solved = pow.verify(self.secret, token, nonce)
            except pow.WorkError as exc:
                return self._refuse(exc.reason, bits)
            # Harder now than when it was issued (the address got busier): ask again, but
            # leave a step of grace so that a person is not sent round twice.
            if solved.bits < bits - 2:
                return self._refuse("too_easy", bits)
            if not self._first_use(solved):
                return self._refuse("reused", bits)
        self._count()
        return None

    def _refuse(self, reason: str, bits: int) -> WorkRequired:
        message = NO_SCRIPT if reason == "missing" else RETRY
        log.info("submission asked for proof of work (%s, %d bits)", reason, bits)
        challenge = pow.issue(self.secret, bits, lifetime=self.settings.pow_challenge_seconds)
        return WorkRequired(message, reason, challenge)

    def _volume_key(self) -> str:
        return f"intake-pow/volume/{get_remote_address()}"

    def _volume(self) -> int:
        try:
            return int(self.storage.get(self._volume_key()))
        except Exception:  # storage down: ask no work rather than refuse people
            log.warning("rate-limit storage unavailable; no proof of work asked")
            return 0

    def _count(self) -> None:
        try:
            self.storage.incr(self._volume_key(), self.settings.pow_window_seconds)
        except Exception:
            log.warning("rate-limit storage unavailable; submission not counted")

    def _first_use(self, challenge: pow.Challenge) -> bool:
        lifetime = max(1, challenge.expires_at - int(time.time()) + 1)
        try:
            return self.storage.incr(f"intake-pow/used/{challenge.serial}", lifetime) == 1
        except Exception:
            log.warning("rate-limit storage unavailable; challenge reuse not checked")
            return True

    # --- trusted clients ------------------------------------------------------------------

    def within_client_limit(self, client: m.ApiClient) -> bool:
        """Count one submission against the client's own limit; False when it is used up."""
        items = parse_many(client.rate_limit or self.settings.api_client_rate_limit)
        key = str(client.id)
        if not all(self.moving.test(item, "intake-client", key) for item in items):
            return False
        return all([self.moving.hit(item, "intake-client", key) for item in items])


def install_guard(app: Flask, limiter: Limiter, settings: Settings, secret: bytes) -> None:
    """Check the guard's settings and attach it to the app."""
    try:
        parse_many(settings.api_client_rate_limit)
    except ValueError as exc:
        raise SettingsError(f"setting api_client_rate_limit: {exc}") from exc
    if not 0 <= settings.pow_min_bits <= settings.pow_max_bits <= 32:
        raise SettingsError("settings pow_min_bits/pow_max_bits: 0 <= min <= max <= 32")
    app.extensions["submission_guard"] = SubmissionGuard(limiter, settings, secret)


def guard() -> SubmissionGuard:
    return current_app.extensions["submission_guard"]  # type: ignore[no-any-return]


def bearer_client() -> tuple[bool, m.ApiClient | None]:
    """(whether a bearer token was sent, the active client holding it or None)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not scheme:
        return False, None
    if scheme != "Bearer":
        return True, None
    return True, authenticate_client(current_app.extensions["desk"], token.strip())


def _solution() -> tuple[str, str]:
    token = request.headers.get(HEADER_CHALLENGE) or request.form.get(FIELD_CHALLENGE, "")
    nonce = request.headers.get(HEADER_NONCE) or request.form.get(FIELD_NONCE, "")
    return token.strip(), nonce.strip()
