"""A Flask session's sliding expiry, kept on the FastAPI side.

Flask re-signs a permanent session cookie on every response (SESSION_REFRESH_EACH_REQUEST),
so a client that keeps using the app stays logged in. A FastAPI app that did not would log
users out after the lifetime even while they are active; this pure ASGI middleware
re-issues the cookie exactly when Flask would: a valid, permanent session arrived, the
Flask app refreshes on each request, and the route did not set or clear the cookie itself.

Its codec is the one given, else the request's (the gateway's, built from the legacy Flask
app's config, or the app's state.flask_session_codec: see gateway.flask_session); without
one it passes requests through.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth.session_cookie import SessionCookieCodec, codec_in_scope


class SlidingSession:
    def __init__(self, app: ASGIApp, codec: SessionCookieCodec | None = None) -> None:
        self.app = app
        self.codec = codec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        codec = self.codec or codec_in_scope(scope)
        if scope["type"] != "http" or codec is None:
            await self.app(scope, receive, send)
            return
        data = codec.loads(_request_cookie(scope, codec.name))
        sliding = codec.config.refresh_each_request and data.get("_permanent")
        set_prefix = f"{codec.name}=".encode()

        async def refresh(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                ours = any(k == b"set-cookie" and v.startswith(set_prefix) for k, v in headers)
                if sliding and not ours:
                    headers.append((b"set-cookie", codec.set_cookie(data).encode()))
                if sliding or ours:
                    # Flask's answer varies by Cookie whenever it writes (or clears) it.
                    vary_by_cookie(headers)
            await send(message)

        await self.app(scope, receive, refresh)


def vary_by_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    """Add Cookie to the response's Vary (raw ASGI headers), once, as werkzeug's does."""
    for i, (key, value) in enumerate(headers):
        if key.lower() == b"vary":
            if b"cookie" not in {v.strip().lower() for v in value.split(b",")}:
                headers[i] = (key, value + b", Cookie")
            return
    headers.append((b"vary", b"Cookie"))


def _request_cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except ValueError:
                return None
            morsel = jar.get(name)
            return morsel.value if morsel is not None else None
    return None
