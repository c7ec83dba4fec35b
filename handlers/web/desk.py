"""The duty desk: hotline call log, walk-in visits, appointment slots and requests (stub)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("desk", __name__)
