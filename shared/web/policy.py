"""The HTTP rules of every request and response, as the Flask side applies them
(legacy_flask/http.py): trusted hosts, same-site writes, security headers. Small pure ASGI
middlewares, for the demo's twins, the gateway and figway's admin API alike."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import BadRequest
from shared.web.errors import legacy_response
from shared.web.headers import EVERY_RESPONSE, PAGES, is_page
from shared.web.hosts import TrustedHosts
from shared.web.origin import STATE_CHANGING, cross_site_refusal

_EVERY = [(k.lower().encode(), v.encode()) for k, v in EVERY_RESPONSE]
_PAGES = [(k.lower().encode(), v.encode()) for k, v in PAGES]


class TrustedHostsOnly:
    """Refuses a request naming a host outside FIGWAY_TRUSTED_HOSTS (shared/web/hosts.py),
    before anything can build a link or a redirect from it."""

    def __init__(self, app: ASGIApp, hosts: TrustedHosts) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self.hosts.allows(host_of(scope)):
            await refuse_host(scope, receive, send)
            return
        await self.app(scope, receive, send)


def host_of(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"host":
            host: str = value.decode("latin-1")
            return host
    return None


async def refuse_host(scope: Scope, receive: Receive, send: Send) -> None:
    """400 in the legacy shape (a WebSocket is closed before it opens: a 403 from the
    server). Nothing built from this Host, not even a redirect, is ever sent."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    err = BadRequest("Host not allowed")
    response = JSONResponse(err.body(), status_code=err.status, headers=dict(EVERY_RESPONSE))
    await response(scope, receive, send)


class SameSiteWrites:
    """403 for a write authenticated by the session cookie from another site."""

    def __init__(self, app: ASGIApp, cookie_name: str) -> None:
        self.app = app
        self.cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in STATE_CHANGING:
            headers = Headers(scope=scope)
            refusal = cross_site_refusal(
                scope["method"],
                host=headers.get("host"),
                origin=headers.get("origin"),
                referer=headers.get("referer"),
                authorization=headers.get("authorization"),
                cookie=headers.get("cookie"),
                cookie_name=self.cookie_name,
            )
            if refusal is not None:
                await legacy_response(refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """The security headers (shared/web/headers.py) on every response, unless it set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {name.lower() for name, _ in headers}
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                extra = _EVERY + _PAGES if is_page(content_type.decode("latin-1")) else _EVERY
                headers.extend(pair for pair in extra if pair[0] not in present)
            await send(message)

        await self.app(scope, receive, add_headers)
