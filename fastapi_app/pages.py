"""HTML the FastAPI side answers with, as Flask and werkzeug write it: the same templates
(shared/web/templates), rendered with the settings, filters and context Flask gives Jinja."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.services.auth import Caller
from shared.services.pages import Page
from shared.web.pages import NOT_FOUND_PAGE, NOT_FOUND_TEMPLATE, TEMPLATES, redirect_body
from shared.web.render import FILTERS, viewer


@cache
def templates() -> Environment:
    """A Jinja environment on the shared templates, escaping as Flask's does (by extension),
    with the pages' filters. Every template is loaded here, when the first app is built, and
    never reloaded: rendering on the event loop is then CPU work only, with no file read or
    stat. One per process: the templates are the package's files, the same for every app
    (compiling them costs a quarter of a second, which each app built would pay again), and
    an environment that never reloads is only read once made."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html", "htm", "xml", "xhtml", "svg")),
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    for name in env.list_templates():
        env.get_template(name)
    return env


def not_found_page(env: Environment) -> str:
    """The generic not-found page. Nobody is resolved for a path no route matched (Flask's
    context processor shows no one either), so it never changes: rendered once, off the
    event loop, when the app is built."""
    return env.get_template(NOT_FOUND_TEMPLATE).render(viewer=None, **NOT_FOUND_PAGE)


def render(
    env: Environment, page: Page, caller: Caller | None, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    """`page` as Flask's render_template answers it, showing `caller` in the header."""
    html = env.get_template(page.template).render(viewer=viewer(caller), **page.context)
    return HTMLResponse(html, status_code=page.status, headers=headers)


def redirect(location: str, status: int = 302) -> Response:
    """A redirect with the small HTML body werkzeug sends, so both sides answer alike."""
    return HTMLResponse(redirect_body(location), status_code=status, headers={"Location": location})
