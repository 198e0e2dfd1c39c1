"""HTML the FastAPI side answers with, as Flask and werkzeug write it."""

from __future__ import annotations

from fastapi.responses import HTMLResponse, Response
from markupsafe import escape


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
