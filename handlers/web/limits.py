"""Rate limits, installed per application by `install_limits()` in create_app().

Each app gets its own Limiter (its own storage: memory, or Redis shared between processes),
and limits are shared across the endpoints that reach the same thing: a query code is one
budget whether it is tried on the status page, the status API or the messages API. Nothing here
caps submissions per address (a village may share one): see handlers/web/guard.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from intake.protect import normalise_code
from intake.settings import Settings, SettingsError

# Per address, only against a spray over many accounts: each account has its own throttle
# (intake/auth/logins.py), and a whole office logging in at 8:00 may share one address.
LOGIN_LIMIT = "60 per minute;600 per hour"


def install_limits(app: Flask, settings: Settings) -> Limiter:
    """Create the app's limiter and wrap the views that need limits."""
    for name in ("status_failure_limit", "code_attempt_limit", "message_rate_limit"):
        try:
            parse_many(getattr(settings, name))
        except ValueError as exc:
            raise SettingsError(f"setting {name}: {exc}") from exc
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.ratelimit_storage_uri,
        strategy="moving-window",
        headers_enabled=True,
        # If Redis goes away, keep limiting per process rather than failing every request.
        in_memory_fallback_enabled=True,
    )
    # Failed look-ups per address, whichever page or API they come through.
    failures = limiter.shared_limit(settings.status_failure_limit, "lookup-failures",
                                    methods=["POST"], deduct_when=_failed_lookup)
    # Every attempt on one code counts, before its password is checked: counting only failures
    # would let a burst of parallel guesses through before the first failure is recorded.
    attempts = limiter.shared_limit(settings.code_attempt_limit, "code-attempts",
                                    methods=["POST"], key_func=_code_key)
    # Wrong device and personal tokens count like failed look-ups: a token cannot be guessed
    # at speed.
    bad_tokens = limiter.shared_limit(settings.status_failure_limit, "device-token-failures",
                                      methods=["GET", "POST"], deduct_when=_unauthorised)
    # Follow-ups are counted per case, never per address: reports (and appointment requests)
    # are not capped per address at all, but slowed by proof of work (handlers/web/guard.py).
    messages = limiter.shared_limit(settings.message_rate_limit, "messages", methods=["POST"],
                                    key_func=_case_key)
    login = limiter.limit(LOGIN_LIMIT, methods=["POST"])
    plan: dict[str, list[Callable[[Any], Any]]] = {
        "public.status": [failures, attempts],
        "api.report_status": [failures, attempts],
        "api.report_message": [failures, attempts, messages],
        "public.case_message": [messages],
        "staff.login": [login],
        "api.desk_call": [bad_tokens],
        "staff_api.items": [bad_tokens],
        "staff_api.item": [bad_tokens],
        "staff_api.counts": [bad_tokens],
    }
    for endpoint, wrappers in plan.items():
        view = app.view_functions[endpoint]
        for wrap in wrappers:
            view = wrap(view)
        app.view_functions[endpoint] = view
    return limiter


def _failed_lookup(response: Response) -> bool:
    return response.status_code == 404


def _unauthorised(response: Response) -> bool:
    return response.status_code == 401


def _case_key() -> str:
    visit = session.get("case")  # the web's follow-up page: the case looked up in this session
    if isinstance(visit, dict) and "id" in visit:
        return f"case:{visit['id']}"
    return _code_key()


def _code_key() -> str:
    code = (request.view_args or {}).get("code") or request.form.get("code", "")
    return "code:" + normalise_code(str(code))
