"""The web edge: `create_app()` builds the Flask application around one Desk.

Blueprints, one per audience: `public` (report, receipt, status pages), `api` (the JSON API of
the service contract, for a "码上巡察" mini-program), `staff` (login, triage queue, item pages,
accounts), `staff_api` (the staff API, with personal tokens). Views parse input, call one
core function, and translate its domain errors.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, jsonify, redirect, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from handlers.web import display
from handlers.web.access import install_access_log
from handlers.web.bodylimit import TOO_LARGE, BodyLimit, BodyTooLargeError
from handlers.web.guard import install_guard
from handlers.web.jsonbody import JsonTooComplexError, JsonTooLargeError, install_json_limits
from handlers.web.limits import install_limits
from intake import scope
from intake.attachments import human_size
from intake.desk import Desk, open_desk
from intake.settings import Settings, load_settings

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(settings: Settings | None = None, *, desk: Desk | None = None) -> Flask:
    """The application for `settings` (default: from the environment), on `desk` if given."""
    settings = settings or load_settings()
    desk = desk or open_desk(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=desk.keyring.session_secret,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        SESSION_COOKIE_NAME="xcz_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https_only,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.staff_session_hours),
        # A villager may take an hour over a report; the token lives as long as the session.
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.extensions["desk"] = desk
    app.wsgi_app = BodyLimit(app.wsgi_app, _body_limits(app, settings))  # type: ignore[method-assign]
    if settings.trust_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]

    @app.before_request
    def body_within_limit() -> None:
        # First of all hooks: CSRFProtect would read the form, that is, the body.
        if (limit := request.environ.get(TOO_LARGE)) is not None:
            raise BodyTooLargeError(limit)

    # Ids in URLs fit the database's integer: a longer number is "not found", not an error.
    app.url_map.converters["int"] = RowId

    from handlers.web.api import bp as api_bp
    from handlers.web.public import bp as public_bp
    from handlers.web.publication import bp as publication_bp
    from handlers.web.staff import bp as staff_bp
    from handlers.web.staffapi import bp as staff_api_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(publication_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(staff_api_bp, url_prefix="/api/v1/staff")
    app.register_blueprint(staff_bp, url_prefix="/staff")
    csrf = CSRFProtect(app)
    csrf.exempt(api_bp)  # the API carries no cookies; CSRF cannot ride on it
    csrf.exempt(staff_api_bp)  # nor does the staff API: a bearer token on every call
    # The batch upload streams its body to disk and checks its token itself: CSRFProtect
    # would parse (and buffer) the whole multipart body to look for the token.
    csrf.exempt("handlers.web.letters.upload")
    limiter = install_limits(app, settings)
    install_guard(app, limiter, settings, desk.keyring.session_secret)
    install_access_log(app)
    install_json_limits(app)

    app.jinja_env.globals.update(labels=display)

    @app.context_processor
    def round_context() -> dict[str, Any]:
        # The round a page is about: the one its URL names (/r/SLUG/), else the one open
        # round; the staff pages set their viewer's.
        # When several rounds are open and the page is about none of them (/, /status, an
        # error), there is no round: the pages speak for the service, not one team.
        entry = g.round_entry if "round_entry" in g else desk.rounds.default()
        return {"round": entry.cfg if entry is not None else None, "round_entry": entry}
    app.jinja_env.filters.update(local_time=display.local_time, code=display.code_groups)

    @app.teardown_request
    def leave_scope(_exc: BaseException | None) -> None:
        if (token := g.pop("scope_token", None)) is not None:
            scope.leave(token)

    @app.get("/healthz")
    def healthz() -> tuple[dict[str, str], int]:
        return {"status": "ok"}, 200

    if settings.https_only:
        # Behind a TLS proxy this needs trust_proxy, so that X-Forwarded-Proto is believed.
        @app.before_request
        def require_tls() -> Any:
            if request.is_secure or request.path == "/healthz":
                return None
            return redirect(request.url.replace("http://", "https://", 1), code=308)

    @app.after_request
    def security_headers(response: Response) -> Response:
        if settings.https_only and request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Never to other sites; our own origin gets it, which CSRF checks need over HTTPS.
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        # may carry codes or identities
        private = ("/staff", "/status", "/api", "/report") + (
            ("/r/",) if request.path.endswith(("/report", "/appointment")) else ())
        if getattr(g, "no_store", False) or request.path.startswith(private):
            response.headers["Cache-Control"] = "no-store"
        return response

    _register_errors(app)
    return app


UPLOAD_PATH = "/staff/letters/upload"  # the one body larger than the public limit


def _body_limits(app: Flask, settings: Settings) -> Callable[[dict[str, Any], int | None], int]:
    """The body limit of a request: the public one, except a scan batch sent by a signed-in
    member of staff (checked from the headers alone, before the body is read)."""
    public = settings.max_request_bytes

    def limit_for(environ: dict[str, Any], declared: int | None) -> int:
        if environ.get("PATH_INFO") != UPLOAD_PATH or (declared is not None
                                                       and declared <= public):
            return public
        return settings.scan_max_batch_bytes if _signed_in(app, environ) else public

    return limit_for


def _signed_in(app: Flask, environ: dict[str, Any]) -> bool:
    """Whether the request carries a valid staff session: the staff pages' own check, run on
    the headers in a request context of its own (the body stays unread)."""
    from handlers.web.staff import require_login

    with app.request_context(environ):
        return require_login() is None


class RowId(IntegerConverter):
    """`<int:…>` in routes: a positive id within a 32-bit database integer."""

    def __init__(self, url_map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = None, signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits, min, 2**31 - 1 if max is None else max, signed)


def _register_errors(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith("/api/")

    def fail(status: int, code: str, message: str) -> Any:
        if wants_json():
            return jsonify(error={"code": code, "message": message, "field": None}), status
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Any:
        size = getattr(exc, "limit", None)
        if size is None and 0 < (request.content_length or 0) <= app.config["MAX_CONTENT_LENGTH"]:
            # The body as a whole is within the limit: one field of it is what is too long.
            return fail(413, "too_large", "填写的某一项文字过长，请精简后再提交。")
        size = size or app.config["MAX_CONTENT_LENGTH"]
        limit = f"{size / 1024 ** 3:.3g} GB" if size >= 1024 ** 3 else human_size(size)
        return fail(413, "too_large", f"提交的内容超过 {limit} 的上限，请减少或压缩附件后再试。")

    @app.errorhandler(JsonTooLargeError)
    @app.errorhandler(JsonTooComplexError)
    def json_over_limits(exc: HTTPException) -> Any:
        status = exc.code or 400
        return fail(status, "too_large" if status == 413 else "invalid", exc.description or "")

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(_exc: RateLimitExceeded) -> Any:
        return fail(429, "rate_limited", "操作过于频繁，请稍后再试。")

    @app.errorhandler(CSRFError)
    def csrf_failed(_exc: CSRFError) -> Any:
        return fail(400, "csrf",
                    "页面已过期或来源不明，请返回刷新页面后重新提交（已填写的内容可能需要重填）。")

    @app.errorhandler(400)
    def bad_request(_exc: HTTPException) -> Any:
        return fail(400, "bad_request", "请求内容不完整或格式不对，请返回刷新页面后重试。")

    @app.errorhandler(403)
    def forbidden(_exc: HTTPException) -> Any:
        return fail(403, "forbidden", "您的账号没有这项操作的权限。")

    @app.errorhandler(404)
    def not_found(_exc: HTTPException) -> Any:
        return fail(404, "not_found", "没有找到这个页面。")

    @app.errorhandler(405)
    def not_allowed(_exc: HTTPException) -> Any:
        return fail(405, "method_not_allowed", "不支持这种请求方式。")

    @app.errorhandler(500)
    def internal(_exc: Exception) -> Any:
        return fail(500, "internal", "服务出现内部错误，请稍后重试。正在提交反映的，"
                                     "如果没有看到查询码，说明未能保存，请重新提交。")
