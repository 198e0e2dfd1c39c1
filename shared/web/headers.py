"""The security headers of every response, and the ones a page adds."""

from __future__ import annotations

# Every response: a browser must not guess a type other than the one we declare (a JSON
# body or an uploaded image read as HTML or script).
EVERY_RESPONSE: tuple[tuple[str, str], ...] = (("X-Content-Type-Options", "nosniff"),)

# HTML pages: never inside another site's frame (clickjacking; X-Frame-Options for older
# browsers, frame-ancestors for the rest), and links out say which site, not which page.
PAGES: tuple[tuple[str, str], ...] = (
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
    ("Referrer-Policy", "same-origin"),
)


def is_page(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "text/html"


def security_headers(content_type: str | None) -> tuple[tuple[str, str], ...]:
    """The headers a response of this Content-Type carries."""
    return EVERY_RESPONSE + PAGES if is_page(content_type) else EVERY_RESPONSE
