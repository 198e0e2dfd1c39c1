"""`figway init`: a starting manifest from a Flask app's url_map, every route on flask."""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask

from gateway import manifest as mf
from gateway.routes import every_route
from shared.auth.roles import AUTH_LEVELS

HEADER = """\
# figway route manifest: which side serves each route of the legacy (Flask) app.
# Written by `figway init` from the app's url_map; edit it by hand or with `figway flip`,
# `figway rollout` and `figway rollback`, which keep these comments and this order.
#
# phases: the rollout plan, in order. A route belongs to one phase; `figway rollout
#   --phase N` moves every route of phase N to fastapi at once. Add phases as you plan.
#   number: a whole number; name and milestone: free text for people.
# routes: one entry per route of the Flask app, as `METHOD PATH` in Flask rule syntax
#   (`GET /items/<int:id>`); the gateway refuses to start if one is missing or unknown.
#   phase: the number of its phase above
#   owner: flask | fastapi: who answers it now. A route may be owned by fastapi only when
#          the FastAPI app has its twin: the same method and path (`/items/{id}`).
#   auth:  the weakest role that may call it: {levels}.
#          figway cannot see a Flask app's own checks: init writes `public` unless the
#          view declares its level; set the real one for each route.
#   notes: free text (init writes the Flask endpoint's name)
#   limit: optional, requests per caller (the user, else the address) on either side:
#          a rate ("60/minute"), a group named in a top-level `limits:` mapping (e.g.
#          `limits: {writes: "30/minute"}`; its routes share one budget), or none (not
#          even FIGWAY_RATE_LIMIT_DEFAULT, which applies to a route without `limit`)
#   gates: optional, when the gateway rolls the route back to flask on its own while it
#          is in canary or for `watch` after a flip to fastapi: a mapping over the
#          top-level `gates:` (default {error_rate: 5%, p99_ratio: 1.5, window: 60s,
#          min_requests: 20, watch: 10m, p99_floor: 100ms}), or none (never)
"""


class InitError(Exception):
    """The manifest cannot be written (it exists, or the app's routes do not fit)."""


def render(app: Flask, path: Path) -> str:
    """The manifest text for `app`; checked to load and to list exactly its routes."""
    routes = every_route(app)
    lines = [HEADER.replace("{levels}", " < ".join(AUTH_LEVELS)), "version: 1", ""]
    lines += ["phases:", "  - number: 1", "    name: first phase", '    milestone: ""', ""]
    lines.append("routes:" if routes else "routes: []")
    skipped = []
    for route in routes:
        if route.method not in mf.METHODS:
            skipped.append(route.key)
            continue
        auth = route.auth if route.auth in AUTH_LEVELS else "public"
        lines += [
            f"  - route: {json.dumps(route.key)}",
            "    phase: 1",
            "    owner: flask",
            f"    auth: {auth}",
            f"    notes: {json.dumps(route.endpoint)}",
        ]
    if skipped:
        raise InitError(
            "routes with a method the manifest cannot hold "
            f"({', '.join(mf.METHODS)}): {', '.join(skipped)}"
        )
    text = "\n".join(lines) + "\n"
    manifest = mf.parse(text, path)  # never write a file that would not load
    problems = mf.check_routes(manifest, [r.key for r in routes], None)
    if problems:
        raise InitError("\n".join(str(p) for p in problems))
    return text


def write_manifest(app: Flask, path: Path, *, force: bool = False) -> int:
    """Write the starting manifest for `app` to `path`; the number of routes in it."""
    text = render(app, path)
    if path.exists() and not force:
        raise InitError(f"{path} exists; --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.init.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return len(mf.parse(text, path).entries)
