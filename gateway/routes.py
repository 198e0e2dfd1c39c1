"""The routes a Flask app declares, as `METHOD PATH` in Flask's own rule syntax."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

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


def flask_routes(app: Flask) -> list[Route]:
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        auth = getattr(view, "_figway_auth", None)
        for method in sorted((rule.methods or set()) - IMPLICIT_METHODS):
            routes.append(Route(rule.rule, method, rule.endpoint, auth))
    return sorted(routes)
