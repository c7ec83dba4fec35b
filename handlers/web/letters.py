"""Scanned letters and suggestion-box notes: batch upload, grouping, OCR review (stub)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("letters", __name__)
