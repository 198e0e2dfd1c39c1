"""HTML the FastAPI side answers with, from the legacy templates and without Flask.

The templates link with literal paths (no url_for), so a plain Jinja environment renders
them byte for byte as Flask does. Templates are compiled at import: rendering then never
touches the disk from the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import escape

TEMPLATES = Path(__file__).resolve().parent.parent / "legacy_flask" / "templates"
# Flask's own choices: autoescape for these suffixes, nothing else changed.
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html", "htm", "xml", "xhtml", "svg")),
    auto_reload=False,
)
_LOGIN = _env.get_template("login.html")


def login_page(status: int, **context: Any) -> HTMLResponse:
    """The login form again, after a failed form login (no one is logged in: no viewer)."""
    return HTMLResponse(_LOGIN.render(viewer=None, **context), status_code=status)


def redirect(location: str, status: int = 302) -> Response:
    """A redirect with the small HTML body werkzeug sends, so both sides answer alike."""
    html_location = escape(location)
    body = (
        "<!doctype html>\n"
        "<html lang=en>\n"
        "<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n"
        "<p>You should be redirected automatically to the target URL: "
        f'<a href="{html_location}">{html_location}</a>. If not, click the link.\n'
    )
    return HTMLResponse(body, status_code=status, headers={"Location": location})
