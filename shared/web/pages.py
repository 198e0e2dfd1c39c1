"""Where the pages' templates and static files live: Flask's app is configured with these
folders, and the FastAPI side reads the same files. Pure (no framework)."""

from __future__ import annotations

from pathlib import Path

WEB = Path(__file__).resolve().parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
STATIC_URL_PATH = "/static"
