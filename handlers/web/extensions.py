"""Flask extensions, bound to each application by `init_app` in create_app().

Limits read their values from the application's config, so every app built from its own
settings enforces its own limits.
"""

from __future__ import annotations

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from intake.protect import normalise_code

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


def report_limit() -> str:
    return current_app.config["INTAKE_REPORT_LIMIT"]


def status_failure_limit() -> str:
    return current_app.config["INTAKE_STATUS_FAILURE_LIMIT"]


def failed_lookup(response) -> bool:
    """Count only failed code/password checks (answered 404) towards the failure limit."""
    return response.status_code == 404


def code_key() -> str:
    """Key a limit by the query code tried, so one case's password is not guessed from many
    addresses (someone who glimpsed a receipt knows the code but not the password)."""
    code = (request.view_args or {}).get("code") or request.form.get("code", "")
    return "code:" + normalise_code(str(code))


def code_failure_limit() -> str:
    return current_app.config["INTAKE_CODE_FAILURE_LIMIT"]
