"""The routes a Flask app declares, as `METHOD PATH` in Flask's own rule syntax."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.manifest import CHANNEL

if TYPE_CHECKING:
    from flask import Flask  # only annotated: reading an app's routes needs no import

# Flask adds these to every rule by itself; the contract lists the declared methods.
IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})


@dataclass(frozen=True, order=True)
class Route:
    path: str
    method: str
    endpoint: str
    auth: str | None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def flask_channels(app: Flask) -> list[Route]:
    """The Socket.IO servers wrapped around the app (Flask-SocketIO puts an Engine.IO WSGI
    middleware around `app.wsgi_app`), as `SOCKETIO /socket.io/` routes."""
    found = []
    layer: Any = app.wsgi_app
    for _ in range(32):  # a chain of middlewares; bounded against a cycle
        path = getattr(layer, "engineio_path", None)
        if isinstance(path, str):
            # Its auth level, when the app declared one on the middleware (as on a view).
            found.append(Route(path, CHANNEL, "socketio", getattr(layer, "_figway_auth", None)))
        layer = getattr(layer, "wsgi_app", None)
        if layer is None:
            break
    return found


def flask_routes(app: Flask) -> list[Route]:
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        auth = getattr(view, "_figway_auth", None)
        for method in sorted((rule.methods or set()) - IMPLICIT_METHODS):
            routes.append(Route(rule.rule, method, rule.endpoint, auth))
    return sorted(routes)


def every_route(app: Flask) -> list[Route]:
    """What a manifest lists for the app: its rules, then its Socket.IO servers."""
    return flask_routes(app) + flask_channels(app)
