"""pages routes of the legacy contract."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)
