"""The dashboard's sign-in cookie: proof that its holder typed the admin token.

The cookie never carries the token: it holds an expiry and an HMAC of it keyed by the
token (SHA-256), so it is worth nothing once the token changes, and nothing to whoever
reads it after it expires. The admin API accepts it as it accepts the bearer token
(gateway.admin.actor_of), and then requires `CSRF_HEADER` on every state-changing call:
a cross-site form can send the cookie (were SameSite=Strict not honoured) but never a
custom header, and a cross-site fetch that sets one needs a CORS preflight nobody answers.
"""

from __future__ import annotations

import hashlib
import hmac
import time

COOKIE = "figway_admin"
# Scoped to the admin API: the app's own pages never see it.
COOKIE_PATH = "/_figway"
CSRF_HEADER = "x-figway-admin"
# A signed-in browser stays so for a working day, then types the token again.
LIFETIME_S = 8 * 3600
_PURPOSE = b"figway-dashboard-v1:"


def _signature(token: str, expires: int) -> str:
    return hmac.new(token.encode(), _PURPOSE + str(expires).encode(), hashlib.sha256).hexdigest()


def sign(token: str, now: float | None = None, lifetime_s: int = LIFETIME_S) -> str:
    """The cookie's value for a browser that gave `token`: `<expiry>.<hmac>`."""
    expires = int(now if now is not None else time.time()) + lifetime_s
    return f"{expires}.{_signature(token, expires)}"


def valid(value: str, token: str, now: float | None = None) -> bool:
    """Whether `value` was signed with `token` and has not expired (constant time)."""
    expiry, dot, signature = value.partition(".")
    if not dot or not expiry.isdigit() or len(expiry) > 12:
        return False
    expires = int(expiry)
    if expires <= (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(signature.encode(), _signature(token, expires).encode())


def token_matches(given: str, token: str) -> bool:
    """The sign-in form's token against FIGWAY_ADMIN_TOKEN, in constant time."""
    return hmac.compare_digest(given.encode(), token.encode())
