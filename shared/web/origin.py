"""Same-site writes: a state-changing request that the browser authenticated with our
session cookie must come from our own pages.

SameSite=Lax keeps the cookie off most cross-site requests; this check holds even where
it would not (an old browser, a sibling subdomain, a lax cookie setting). Bearer-token
callers are not browsers riding on a cookie, so they are left alone, as are requests
saying nothing of where they come from (no Origin, no Referer: not a modern browser's
cross-site request).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from shared.errors import Forbidden
from shared.web.hosts import split_host

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def cross_site_refusal(
    method: str,
    *,
    host: str | None,
    origin: str | None,
    referer: str | None,
    authorization: str | None,
    cookie: str | None,
    cookie_name: str,
) -> Forbidden | None:
    """The 403 for a cookie-authenticated write from another site, else None."""
    if method not in STATE_CHANGING or not has_cookie(cookie, cookie_name):
        return None
    if (authorization or "")[:7].lower() == "bearer ":  # the auth the sides use first
        return None
    source = origin or referer
    if source is None or _same_host(source, host):
        return None
    return Forbidden("Cross-site request refused")


def has_cookie(header: str | None, name: str) -> bool:
    if not header:
        return False
    return any(part.split("=", 1)[0].strip() == name for part in header.split(";"))


def _same_host(url: str, host: str | None) -> bool:
    """Whether `url` (an Origin or a Referer) names the host and port of the Host header;
    a missing port is its scheme's default on either side ("null" matches nothing)."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    source = split_host(parts.netloc)
    ours = split_host(host or "")
    if source is None or ours is None or default is None:
        return False
    return source[0] == ours[0] and (source[1] or default) == (ours[1] or default)
