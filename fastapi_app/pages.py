"""HTML the FastAPI side answers with, as Flask and werkzeug write it: the same templates
(shared/web/templates), rendered with the settings Flask gives Jinja."""

from __future__ import annotations

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import escape

from shared.web.pages import NOT_FOUND_PAGE, NOT_FOUND_TEMPLATE, TEMPLATES


def templates() -> Environment:
    """A Jinja environment on the shared templates, escaping as Flask's does (by extension)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html", "htm", "xml", "xhtml", "svg")),
    )


def not_found_page(env: Environment) -> str:
    """The generic not-found page. Nobody is resolved for a path no route matched (Flask's
    context processor shows no one either), so it never changes: rendered once, off the
    event loop, when the app is built."""
    return env.get_template(NOT_FOUND_TEMPLATE).render(viewer=None, **NOT_FOUND_PAGE)


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
