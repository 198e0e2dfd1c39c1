"""GET /_figway/: the migration dashboard, server-rendered for admins (the admin API's own
`actor_of`: the admin token, its sign-in cookie, or the app's hook), with a sign-in form
for the token; its figures again as JSON (/_figway/figures) for the page's refresh.

Everything it shows comes from the admin API's own sources: the status (route owners,
drift, gates), the history, the shadow report, and this process's metrics. Nothing of the
demo's: it works for any app behind figway. Its template and static files are figway's
(gateway/dashboard/templates, static): no CDN, no build step.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.staticfiles import StaticFiles

from gateway import live
from gateway import manifest as mf
from gateway.dashboard import figures, session
from gateway.ratelimit import RouteLimit, parse_limit
from gateway.table import FASTAPI, FLASK, SAFE_METHODS, SHADOW
from shared.errors import AppError, AuthRequired, RateLimited

if TYPE_CHECKING:
    from gateway.app import Gateway

log = logging.getLogger("figway.gateway")
HERE = Path(__file__).parent
HISTORY_SHOWN = 50
# The chart reads further back than the table shows: the share of routes on fastapi
# since the first of these changes.
HISTORY_CHARTED = 1000
# The sign-in form's body: a token, no file; anything longer is no token of ours.
LOGIN_BODY_MAX = 4096
# Sign-in attempts a caller (its user, else its address) may make, counted where the
# gateway counts its rate limits (in Redis when REDIS_URL is set: across the fleet).
LOGIN_RATE = "10/minute"
LOGIN_LIMIT = RouteLimit("figway:dashboard-login", parse_limit(LOGIN_RATE), LOGIN_RATE)
# The security headers' frame-ancestors (shared/web/headers.py), and more: only the page's
# own files run or load (the favicon is an empty data: URL, to ask the server nothing).
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)

Actor = Callable[[Request], Awaitable[str]]
Status = Callable[[str], Awaitable[dict[str, Any]]]
History = Callable[[int], Awaitable[list[dict[str, Any]]]]
Shadow = Callable[[], Awaitable[list[dict[str, Any]]]]


@cache
def templates() -> Environment:
    """One environment per process, built at the first page (most processes never show
    one)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ms"] = figures.fmt_ms
    return env


def install(
    app: FastAPI,
    gateway: Gateway,
    *,
    actor: Actor,
    status: Status,
    history: History,
    shadow: Shadow,
) -> None:
    settings = gateway.settings
    app.mount("/_figway/static", StaticFiles(directory=HERE / "static"), name="figway-static")

    def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = templates().get_template(name).render(**context)
        # The page changes with every request and names who is signed in: never cached.
        # Its script and style are its own files: nothing inline, nothing from elsewhere.
        headers = {"Cache-Control": "no-store", "Content-Security-Policy": CSP}
        return HTMLResponse(html, status_code, headers=headers)

    def denied(request: Request, exc: AppError | None, message: str | None = None) -> Response:
        """The 401/403/429 page: why, and the token's sign-in form (when a token is set)."""
        code = exc.status if exc is not None else 401
        return page(
            "denied.html",
            code,
            code=code,
            reason=message or (exc.message if exc is not None else ""),
            token_set=settings.admin_token is not None,
            signed_in=session.COOKIE in request.cookies,
        )

    @app.get("/_figway", include_in_schema=False)
    async def to_dashboard() -> Response:
        # Relative, so nothing of the Host header goes into it.
        return RedirectResponse("/_figway/", status_code=308)

    @app.get("/_figway/", include_in_schema=False)
    async def dashboard(request: Request) -> Response:
        try:
            who = await actor(request)
        except AppError as exc:  # 401, 403: the sign-in page, never the figures
            return denied(request, exc)
        context = await _context(gateway, who, status, history, shadow)
        return page(
            "dashboard.html",
            **context,
            signed_in=session.COOKIE in request.cookies,
        )

    @app.get("/_figway/figures")
    async def figures_json(request: Request) -> dict[str, Any]:
        await actor(request)
        return await _figures(gateway, shadow)

    @app.post("/_figway/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        token = settings.admin_token
        if token is None:
            return denied(
                request, AuthRequired(), "No admin token is set here (FIGWAY_ADMIN_TOKEN)."
            )
        # Counted before the token is read, whatever it turns out to be: a guess costs
        # the guesser its budget (the token is long; this keeps it so).
        wait = await gateway.limiter.retry_after(LOGIN_LIMIT, request.scope)
        if wait is not None:
            log.warning("dashboard sign-in refused: too many attempts from one caller")
            refused = denied(
                request, RateLimited(), f"Too many sign-in attempts: try again in {wait} s."
            )
            refused.headers["Retry-After"] = str(wait)
            return refused
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > LOGIN_BODY_MAX:
                return denied(request, AuthRequired(), "That is not the admin token.")
        given = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0].strip()
        if not given or not session.token_matches(given, token.get_secret_value()):
            log.warning("dashboard sign-in refused: wrong admin token")
            return denied(request, AuthRequired(), "That is not the admin token.")
        response = RedirectResponse("/_figway/", status_code=303)
        response.set_cookie(
            session.COOKIE,
            session.sign(token.get_secret_value()),
            max_age=session.LIFETIME_S,
            path=session.COOKIE_PATH,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @app.post("/_figway/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/_figway/", status_code=303)
        response.delete_cookie(
            session.COOKIE, path=session.COOKIE_PATH, httponly=True, samesite="strict"
        )
        return response


async def _figures(gateway: Gateway, shadow: Shadow) -> dict[str, Any]:
    """The figures the page refreshes: per route and side, from this process's metrics;
    the shadow match rates, fleet-wide."""
    per_route = figures.route_figures(gateway.metrics)
    rates, problem = await _shadow_rows(shadow)
    return {
        "process": os.getpid(),
        "routes": {
            route: {side: figs.as_json() for side, figs in sides.items()}
            for route, sides in per_route.items()
        },
        "shadow": {r["route"]: _shadow_text(r) for r in rates},
        "shadow_problem": problem,
    }


async def _shadow_rows(shadow: Shadow) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return await shadow(), None
    except AppError as exc:  # the state database: said on the page, the rest shown
        return [], exc.message


def _shadow_text(row: dict[str, Any]) -> str:
    rate = row.get("match_rate")
    if rate is None:
        return f"0 compared · {row.get('skipped', 0)} skipped"
    text = f"{100 * rate:.1f}% of {row['compared']}"
    if row.get("differences"):
        text += " · " + ", ".join(d["field"] for d in row["differences"][:3])
    return text


async def _context(
    gateway: Gateway, who: str, status: Status, history: History, shadow: Shadow
) -> dict[str, Any]:
    state = await status(who)
    manifest = gateway.watcher.manifest
    states = gateway.table.states()
    drift = {d["route"]: d for d in state["live"]["drift"]}
    per_route = figures.route_figures(gateway.metrics)
    shadow_rows, shadow_problem = await _shadow_rows(shadow)
    shadow_by_route = {r["route"]: r for r in shadow_rows}
    try:
        rows = await history(HISTORY_CHARTED)
        history_problem = None
    except AppError as exc:
        rows, history_problem = [], exc.message
    phases: list[dict[str, Any]] = []
    for phase in manifest.phases:
        routes = []
        for entry in manifest.in_phase(phase.number):
            current = states.get(entry.key)
            if current is None:
                continue
            sides = per_route.get(entry.key, {})
            found = shadow_by_route.get(entry.key)
            routes.append(
                {
                    "key": entry.key,
                    "owner": current.owner,
                    "other": FLASK if current.owner == FASTAPI else FASTAPI,
                    "weight": current.weight,
                    "shadowed": current.mode == SHADOW,
                    "sample": current.sample,
                    "state": live.describe(current),
                    "drift": drift.get(entry.key),
                    "shadowable": entry.method in SAFE_METHODS,
                    "channel": entry.method == mf.CHANNEL,  # no canary: sessions stick
                    "flask": sides.get(FLASK, figures.SideFigures()),
                    "fastapi": sides.get(FASTAPI, figures.SideFigures()),
                    "shadow": _shadow_text(found) if found else None,
                }
            )
        on_fastapi = sum(1 for r in routes if r["owner"] == FASTAPI)
        phases.append(
            {
                "number": phase.number,
                "name": phase.name,
                "milestone": phase.milestone,
                "routes": routes,
                "fastapi": on_fastapi,
                "percent": round(100 * on_fastapi / len(routes), 1) if routes else 0.0,
            }
        )
    every = [r for p in phases for r in p["routes"]]
    on_fastapi = sum(1 for r in every if r["owner"] == FASTAPI)
    file_owners = {e.key: e.owner for e in manifest.entries}
    points = figures.migration_points(file_owners, rows)
    return {
        "actor": who,
        "pid": os.getpid(),
        "status": state,
        "phases": phases,
        "total": len(every),
        "on_fastapi": on_fastapi,
        "percent": round(100 * on_fastapi / len(every), 1) if every else 0.0,
        "history": rows[:HISTORY_SHOWN],
        "history_problem": history_problem,
        "shadow_problem": shadow_problem,
        "gates": figures.gate_rows(state.get("gates")),
        "chart": figures.chart(points, datetime.now(UTC)),
        "now": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
