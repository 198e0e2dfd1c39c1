"""What the pages of both sides share: where the templates and static files live, and when a
not-found is answered with the HTML error page rather than the legacy JSON error.

Pure (no framework): Flask's app is configured with these folders, the FastAPI side loads
the same templates, and each side's 404 handler asks `prefers_html` in its one place.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from markupsafe import escape

WEB = Path(__file__).resolve().parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
STATIC_URL_PATH = "/static"

# The generic not-found as a page: error.html's context (its heading is the status).
ERROR_TEMPLATE = NOT_FOUND_TEMPLATE = "error.html"
NOT_FOUND_PAGE = {"status": 404, "message": "There is no page at this address."}
# A page the caller's role may not see.
FORBIDDEN_PAGE = {"status": 403, "message": "You do not have permission to see this page."}


def login_location(path: str, query: str) -> str:
    """Where a page sends an anonymous visitor: the login form, with the page (and its
    query string, as the request had it) as `next`."""
    target = path + (f"?{query}" if query else "")
    return f"/login?next={quote(target, safe='/')}"


_HTML = ("text", "html")
_JSON = ("application", "json")


def redirect_body(location: str) -> str:
    """The small HTML page werkzeug sends with a redirect (`location` escaped as it does)."""
    shown = escape(location)
    return (
        "<!doctype html>\n"
        "<html lang=en>\n"
        "<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n"
        "<p>You should be redirected automatically to the target URL: "
        f'<a href="{shown}">{shown}</a>. If not, click the link.\n'
    )


def prefers_html(accept: str | None) -> bool:
    """Whether a client sending this Accept header wants HTML more than JSON: a browser's
    navigation (`text/html,...,*/*;q=0.8`) does; `application/json`, `*/*`, no header, or a
    tie do not, so API clients keep the JSON error they always had."""
    if not accept:
        return False
    ranges = _parse(accept)
    return _quality(ranges, _HTML) > _quality(ranges, _JSON)


def _parse(accept: str) -> list[tuple[str, str, float]]:
    """(type, subtype, q) of each media range; a malformed range or q is left out."""
    ranges = []
    for item in accept.split(","):
        media, *params = item.split(";")
        kind, slash, sub = media.strip().lower().partition("/")
        if not slash or not kind or not sub.strip():
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
        if 0.0 <= q <= 1.0:
            ranges.append((kind, sub.strip(), q))
    return ranges


def _quality(ranges: list[tuple[str, str, float]], media: tuple[str, str]) -> float:
    """The q the most specific matching range gives `media` (RFC 9110 12.5.1); 0 if none."""
    best_specificity, q = -1, 0.0
    for kind, sub, quality in ranges:
        if kind == media[0] and sub == media[1]:
            specificity = 2
        elif kind == media[0] and sub == "*":
            specificity = 1
        elif kind == "*" and sub == "*":
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, q = specificity, quality
        elif specificity == best_specificity:
            q = max(q, quality)
    return q
