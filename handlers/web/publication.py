"""A round's printables on the web: the announcement and the posters, as PDF and PNG.

`bp` (public, on the app): anyone may fetch a round's announcement and posters, as the public
index page links them. `staff_bp` (nested in the staff blueprint at /staff/rounds, so it
shares its login): the page a duty officer prints from, with previews and a warning when the
QR codes would point at the server's own 127.0.0.1.

Generating one takes most of a second (the font is parsed and subset), so each document is
kept in the app's memory for the round's current version (`updated_at`), base URL and font;
there are only (1 + posters) × 2 of them per round, and a new version replaces the old.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, g, render_template, request

from handlers.web.context import desk
from intake import publication
from intake.publication import FontMissingError
from intake.rounds import RoundEntry
from intake.staff import may

bp = Blueprint("publication", __name__)
staff_bp = Blueprint("publication", __name__)
MIMETYPES = {"pdf": "application/pdf", "png": "image/png"}


def _render(entry: RoundEntry, kind: str, number: int, fmt: str) -> bytes:
    """The document, from this app's cache when the round has not changed since."""
    settings = desk().settings
    base_url = settings.effective_public_base_url
    cache: dict[tuple, tuple[tuple, bytes]] = current_app.extensions.setdefault("publications", {})
    version = (entry.updated_at, base_url, settings.pdf_font)
    key = (entry.id, kind, number, fmt)
    if (found := cache.get(key)) is not None and found[0] == version:
        return found[1]
    font = publication.find_font(settings.pdf_font)
    if kind == "announcement":
        pdf = publication.announcement_pdf(entry.cfg, entry.slug, base_url, font)
    else:
        pdf = publication.poster_pdf(entry.cfg, entry.slug, base_url, number, font)
    cache[(entry.id, kind, number, "pdf")] = (version, pdf)
    if fmt == "png":
        cache[key] = (version, publication.to_png(pdf))
    return cache[key][1]


def _document(entry: RoundEntry, kind: str, number: int, fmt: str) -> Response:
    try:
        data = _render(entry, kind, number, fmt)
    except FontMissingError as exc:
        return Response(exc.message, status=503, mimetype="text/plain")
    name = f"{entry.slug}-{'announcement' if kind == 'announcement' else f'poster-{number}'}"
    response = Response(data, mimetype=MIMETYPES[fmt])
    disposition = "attachment" if request.args.get("download") else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}.{fmt}"'
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


def _published(slug: str) -> RoundEntry:
    """A round that has printables: one still taking items (an archived round has none)."""
    entry = desk().rounds.by_slug(slug)
    if entry is None or not entry.takes_items:
        abort(404)
    return entry


@bp.get("/r/<slug>/announcement.<any(pdf, png):fmt>")
def announcement(slug: str, fmt: str) -> Response:
    return _document(_published(slug), "announcement", 0, fmt)


@bp.get("/r/<slug>/posters/<int:number>.<any(pdf, png):fmt>")
def poster(slug: str, number: int, fmt: str) -> Response:
    entry = _published(slug)
    if number > len(entry.cfg.suggestion_boxes):
        abort(404)
    return _document(entry, "poster", number, fmt)


@staff_bp.get("/<slug>/publication")
def page(slug: str) -> str:
    """The announcement and every poster with downloads and previews, for the round's own
    team's desk (duty officers, team leaders) and the administrator who manages rounds."""
    role = g.staff.role
    if not (may(role, "desk") or may(role, "manage_rounds")):
        abort(403)
    entry = desk().rounds.by_slug(slug)
    if entry is None or not (may(role, "manage_rounds") or entry.team_id in g.viewer.team_ids):
        abort(404)
    base_url = desk().settings.effective_public_base_url
    font_error = ""
    try:
        publication.find_font(desk().settings.pdf_font)
    except FontMissingError as exc:
        font_error = exc.message
    others = [e for e in desk().rounds.taking(None if may(role, "manage_rounds")
                                              else g.viewer.team_ids) if e.id != entry.id]
    return render_template(
        "staff/publication.html", entry=entry, base_url=base_url,
        local_base=publication.is_local(base_url), font_error=font_error,
        posters=publication.posters(entry.cfg), others=others,
        form_url=lambda n: publication.form_url(base_url, entry.slug, n))
