"""Who is calling: one definition of a request's caller, for the rate limits (whose budget
a request is counted against, gateway/ratelimit.py) and the canaries (which side a caller
is kept on, gateway/canary.py).

The caller is the user, when the request carries credentials checked here without the
database (a bearer token signed with the app's keys: its user; the legacy Flask session
cookie, verified with the gateway's codec: its `user_id`, else a hash of its `sid`), else
the client address. A credential that does not verify counts as its address, so made-up
tokens cannot buy fresh budgets, nor pick a canary's side by trying tokens.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from starlette.requests import cookie_parser
from starlette.types import Scope

from shared.auth.session_cookie import SessionCookieCodec
from shared.auth.tokens import read_token
from shared.config import Settings
from shared.errors import AppError

CACHE_SIZE = 4096


class Callers:
    """`callers(scope)`: `user:<id>` or `session:<hash>` for credentials that verify, else
    `addr:<ip>`. What a signature says never changes, so answers are remembered per
    (Authorization, Cookie) value in a bounded LRU."""

    def __init__(
        self,
        settings: Settings,
        codec: Callable[[], SessionCookieCodec | None] = lambda: None,
    ) -> None:
        self._settings = settings
        # A callable: the gateway learns the Flask session's codec once the legacy app is
        # built, which may be after the gateway (and so this) was made.
        self._codec = codec
        self._known: OrderedDict[tuple[bytes, bytes], str | None] = OrderedDict()

    def __call__(self, scope: Scope) -> str:
        authorization = cookie = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"cookie":
                cookie = value
        if authorization or cookie:
            key = (authorization, cookie)
            try:
                found = self._known[key]
            except KeyError:
                found = self._from_credentials(authorization, cookie)
                self._known[key] = found
                if len(self._known) > CACHE_SIZE:
                    self._known.popitem(last=False)
            if found is not None:
                return found
        client = scope.get("client")
        return f"addr:{client[0]}" if client else "addr:unknown"

    def _from_credentials(self, authorization: bytes, cookie: bytes) -> str | None:
        # An expired credential stays its user's for the cache's lifetime, which only
        # decides whose budget (or canary bucket) a request is; the app still refuses it.
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token:
            try:
                return f"user:{read_token(self._settings, token.strip())}"
            except AppError:
                pass
        codec = self._codec()
        if cookie and codec is not None:
            session = codec.loads(cookie_parser(cookie.decode("latin-1")).get(codec.name))
            user = session.get("user_id", session.get("_user_id"))
            if user is not None:
                return f"user:{user}"
            sid = session.get("sid")
            if sid:
                # A hash: the sid is a credential, and the key sits in Redis.
                return "session:" + hashlib.sha256(str(sid).encode()).hexdigest()[:32]
        return None
