"""HEAD, OPTIONS and 405 as Flask answers them, for an ASGI app with Starlette's routes.

werkzeug answers HEAD on every GET route (the GET's status and headers, no body), OPTIONS
on every route (200, an empty body, `Allow`), and a wrong method with a 405 whose `Allow`
names every method of the path, HEAD and OPTIONS included. Starlette and FastAPI do none
of this (HEAD and OPTIONS are 405s, and a 405 names the methods of the first route whose
path matched). While the gateway fronts both apps it answers HEAD for the twins and sends
OPTIONS and unmatched paths to Flask; these rules keep the answers the same once Flask is
gone and the FastAPI app serves every path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Routes = Callable[[], Iterable[BaseRoute]]


def flat_routes(routes: Iterable[BaseRoute]) -> list[Any]:
    """Routes with included routers flattened (FastAPI keeps them nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # plain Starlette, or a FastAPI that flattens on include
        return list(routes)
    return list(iter_route_contexts(list(routes)))


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> set[str]:
    """The methods of every route whose path matches the request's, as declared."""
    methods: set[str] = set()
    for route in routes if isinstance(routes, _Flat) else flat_routes(routes):
        declared = getattr(route, "methods", None)
        if declared and route.matches(scope)[0] != Match.NONE:
            methods |= declared
    return methods


def flask_allow(methods: Iterable[str]) -> str:
    """The `Allow` werkzeug sends for these methods: HEAD with GET, and OPTIONS always
    (werkzeug's own order is a set's; sorted here, as clients compare it as a set)."""
    every = {*methods, "OPTIONS"}
    if "GET" in every:
        every.add("HEAD")
    return ", ".join(sorted(every))


class _Flat(list[Any]):
    """Routes flattened already (an app's routes do not change once it serves)."""


class FlaskMethods:
    """HEAD and OPTIONS answered as Flask answers them (see the module's docstring)."""

    def __init__(self, app: ASGIApp, routes: Routes) -> None:
        self.app = app
        self.routes = routes
        self._flat: _Flat | None = None  # the app's routes, flattened on first use

    def _routes(self) -> _Flat:
        if self._flat is None:
            self._flat = _Flat(flat_routes(self.routes()))
        return self._flat

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        allowed = allowed_methods(self._routes(), scope)
        if method == "OPTIONS":
            if allowed and "OPTIONS" not in allowed:
                options = Response(
                    b"", media_type="text/html", headers={"Allow": flask_allow(allowed)}
                )
                await options(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if "GET" in allowed and "HEAD" not in allowed:
            scope = {**scope, "method": "GET"}

        async def headers_only(message: Message) -> None:
            # Every HEAD answer, errors included, keeps its headers and loses its body.
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive, headers_only)
