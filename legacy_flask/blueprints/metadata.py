"""metadata routes of the legacy contract."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("metadata", __name__)
