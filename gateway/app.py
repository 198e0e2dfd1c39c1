"""create_gateway(): one ASGI app in front of a legacy WSGI app and a modern ASGI app.

Per request: decide the owner from the route table (once, at the start, so a flip never
moves a request in flight), pick the side (the owner; on a canary route, the caller's side,
gateway/canary.py; an admin's X-Figway-Side), call it, stamp `X-Served-By` with it, record
metrics by it.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import manifest as mf
from gateway.callers import Callers
from gateway.canary import CANARY, FORCED, MANIFEST, asked_side, side_for
from gateway.channels import ChannelSessions, handshake_sid, session_id
from gateway.legacy_side import LegacySide, LegacyUnavailable, flask_session_codec
from gateway.live import LiveFollower
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import RateLimiter, parse_limit
from gateway.rollback import Watchdog
from gateway.shadow import Shadow, ShadowCollector
from gateway.table import FASTAPI, FLASK, SHADOW, RouteTable, call_method
from gateway.watcher import ManifestWatcher
from gateway.window import RouteWindow
from shared import tracing
from shared.auth.session_cookie import SCOPE_KEY as FLASK_SESSION_KEY
from shared.auth.session_cookie import SessionCookieCodec
from shared.config import Settings, SettingsError
from shared.errors import RateLimited, error_for_status
from shared.web.headers import EVERY_RESPONSE, security_headers
from shared.web.hosts import TrustedHosts
from shared.web.methods import flask_allow, flat_routes
from shared.web.pages import redirect_body
from shared.web.policy import host_of, refuse_host

if TYPE_CHECKING:
    from gateway.admin import AdminAuth

log = logging.getLogger("figway.gateway")
ADMIN_PREFIX = "/_figway/"
ADMIN_ROOT = "/_figway"  # redirected to the dashboard (/_figway/) by the admin app
UNMATCHED = "<unmatched>"


class _RequestSpan(Protocol):
    def end(self, owner: str, decision: str, status: int) -> None: ...


class Gateway:
    def __init__(
        self,
        *,
        settings: Settings,
        legacy: LegacySide,
        modern: ASGIApp,
        watcher: ManifestWatcher,
        metrics: GatewayMetrics,
        modern_only: Sequence[Any],
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        # The legacy side, built once some route is Flask's (gateway/legacy_side.py).
        self.legacy = legacy
        self.guard = legacy  # its in_flight, for the admin API and tests
        self.modern = modern
        self.watcher = watcher
        # The fleet's live state (gateway/live.py), followed from the lifespan's start.
        self.live: LiveFollower | None = None
        # The watched routes' sliding windows, kept by the watchdog (gateway/rollback.py),
        # which rolls a route back to flask when its gates trip; set by create_gateway.
        self.windows: dict[str, RouteWindow] = {}
        self.watchdog: Watchdog | None = None
        self.metrics = metrics
        self.admin: ASGIApp | None = None  # set by create_gateway (it needs the gateway)
        self.modern_keys: list[str] | None = None  # the twins a route may be flipped to
        # Whether a request comes from an admin (gateway.admin.admin_check), for the
        # X-Figway-Side header; set by create_gateway. None: nobody is.
        self.is_admin: Callable[[Scope], Awaitable[bool]] | None = None
        self._twinned: dict[str, bool] = {}  # per route key: has a FastAPI twin
        # The legacy Flask app's session cookie, handed to the FastAPI side in each scope
        # (gateway.flask_session); None when the legacy app is no Flask app with a key.
        self.flask_session: SessionCookieCodec | None = None
        self._modern_only = tuple(modern_only)
        self._sides: dict[str, ASGIApp] = {FLASK: self.legacy, FASTAPI: self.modern}
        # Shadow traffic: replays of a shadowed route's requests on the other side.
        self.shadow = Shadow(
            settings,
            self._sides,
            legacy_busy=lambda: self.legacy.in_flight >= settings.legacy_threads,
        )
        metrics.registry.register(ShadowCollector(self.shadow))
        self._stamp = {FLASK: (b"x-served-by", b"flask"), FASTAPI: (b"x-served-by", b"fastapi")}
        self._hosts = TrustedHosts(settings.trusted_hosts)
        self.channel_sessions = ChannelSessions(settings.channel_drain_s)
        # A request's span maker when tracing is on; None (one test per request) when off,
        # and then neither OpenTelemetry's SDK nor shared.tracing.spans is imported.
        self.trace_request: Callable[[Scope, str], _RequestSpan] | None = None
        tracer = tracing.tracer_for(settings)
        if tracer is not None:
            from shared.tracing.spans import RequestSpan

            self.trace_request = partial(RequestSpan, tracer)
        # Who a request comes from: one definition for rate limits and canaries.
        self.callers = Callers(settings, codec=lambda: self.flask_session)
        self.limiter = limiter or RateLimiter(
            settings, on_unchecked=metrics.rate_limit_unchecked.inc, callers=self.callers
        )

    @property
    def table(self) -> RouteTable:
        return self.watcher.table

    @property
    def legacy_app(self) -> Any:
        """The legacy app (Flask's, for the CLI), built now if it was not."""
        self.legacy.ensure()
        return self.legacy.app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if self.flask_session is not None and kind != "lifespan":
            scope[FLASK_SESSION_KEY] = self.flask_session
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif not self._hosts.allows(host_of(scope)):
            await refuse_host(scope, receive, send)
        elif kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            # Only the FastAPI side has WebSockets. Not rate limited: the manifest's limits
            # are per HTTP route, and a socket is one long request whose opening the
            # route's own auth already guards.
            key = self._channel(scope["path"])
            if key is None:
                await self.modern(scope, receive, send)
            else:
                await self._channel_websocket(scope, receive, send, key)

    def _channel(self, path: str) -> str | None:
        """The Socket.IO route `path` is under, if any (a table has one at most, usually)."""
        for prefix, key in self.table.channels:
            if path.startswith(prefix) or path + "/" == prefix:
                return key
        return None

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The hot path: one coroutine, no allocations beyond the send wrapper.
        self.watcher.ensure_running()
        path: str = scope["path"]
        # The admin API is never rate limited: it is no manifest route, and an operator
        # must be able to flip or roll back while clients are being refused.
        if (path.startswith(ADMIN_PREFIX) or path == ADMIN_ROOT) and self.admin is not None:
            await self.admin(scope, receive, send)
            return
        if self.table.channels:
            key = self._channel(path)
            if key is not None:
                await self._channel_http(scope, receive, send, key)
                return
        method: str = scope["method"]
        decision = self.table.decide(method, path)
        if decision.redirect is not None:
            await _slash_redirect(scope, receive, send, decision.redirect)
            self.metrics.observe(UNMATCHED, "gateway", 308, 0.0)
            return
        if decision.allowed:
            await _not_allowed(scope, receive, send, decision.allowed)
            self.metrics.observe(UNMATCHED, "gateway", 405, 0.0)
            return
        owner, route = decision.owner, decision.route or UNMATCHED
        started = time.perf_counter()
        span = None if self.trace_request is None else self.trace_request(scope, route)
        # The caller, once, when a canary needs it (the limiter works it out otherwise).
        who = None if decision.weight is None else self.callers(scope)
        if decision.limit is not None:  # a route without a limit pays this test only
            # Counted before the side is picked: one budget whichever side serves.
            wait = await self.limiter.retry_after(decision.limit, scope, who)
            if wait is not None:
                await _too_many(scope, receive, send, wait)
                self.metrics.rate_limited.labels(route).inc()
                self.metrics.observe(route, "gateway", 429, time.perf_counter() - started)
                if span is not None:
                    span.end("gateway", "rate-limited", 429)
                return
        how, call = MANIFEST, decision.method
        if decision.route is None:
            if self._modern_only and self._is_modern_only(scope):
                owner = FASTAPI
        else:
            asked = asked_side(scope["headers"])  # what most requests pay: one header scan
            if asked is not None or decision.weight is not None:
                side, how = await self._side(scope, route, owner, decision.weight, who, asked)
                if side != owner:
                    owner, call = side, call_method(side, method)
                if how != MANIFEST:
                    self.metrics.chosen(route, owner, how)
        # A shadowed route's sampled safe request: its answer, from the side serving it,
        # is kept as it streams, and replayed on the other once complete
        # (gateway/shadow.py); the caller waits for none of it.
        capture = None
        if decision.shadow and self.shadow.sampled(decision.shadow):
            capture = self.shadow.capture(scope, owner, route)
        # HEAD is called as GET on FastAPI; the body is then dropped, as Flask does.
        head_as_get = call != method
        if head_as_get:
            scope = {**scope, "method": call}
        stamp = self._stamp[owner]
        status = 500

        async def stamped_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), stamp]
            elif head_as_get and message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            if capture is not None:
                capture.sent(message)
            await send(message)

        # The callers in this process now: shadow replays wait for a moment without any.
        shadow = self.shadow
        shadow.callers += 1
        try:
            await self._sides[owner](scope, receive, stamped_send)
            if capture is not None:
                shadow.submit(capture)
        finally:
            shadow.callers -= 1
            if not shadow.callers:
                shadow.idle.set()
            ended = time.perf_counter()
            self.metrics.observe(route, owner, status, ended - started)
            # A watched route's window (gateway/window.py), for the auto-rollback gates.
            if self.windows:
                window = self.windows.get(route)
                if window is not None:
                    window.add(owner, status, ended - started, ended)
            if span is not None:
                span.end(owner, how if decision.route is not None else _decision(owner), status)

    async def _side(
        self,
        scope: Scope,
        route: str,
        owner: str,
        weight: int | None,
        who: str | None,
        asked: str | None,
    ) -> tuple[str, str]:
        """The side that serves a request to a manifest route, and how it was chosen: an
        admin's X-Figway-Side (`asked`), else the caller's side of a canary, else the
        owner."""
        if (
            asked is not None
            and self._serves(asked, route)
            and self.is_admin is not None
            and await self.is_admin(scope)  # last: the hook may look the caller up
        ):
            return asked, FORCED
        if weight is None:
            return owner, MANIFEST
        side = side_for(route, who or self.callers(scope), weight)
        if side == FASTAPI and not self._serves(FASTAPI, route):
            # A weight on a route without a twin is refused when set; should the twin be
            # gone since (another deploy), its callers stay on flask rather than get 404s.
            side = FLASK
        return side, CANARY

    def _serves(self, side: str, route: str) -> bool:
        """Whether `side` has a handler for the manifest route. FastAPI: a twin, when its
        routes are known. Flask: every manifest route, once its side is built (a request
        never builds it for a forced side)."""
        if side == FLASK:
            return self.legacy.built
        twinned = self._twinned.get(route)
        if twinned is None:
            keys = self.modern_keys
            twinned = keys is None or mf.twin_key(route) in {mf.twin_key(k) for k in keys}
            self._twinned[route] = twinned
        return twinned

    async def _channel_http(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        """A Socket.IO poll or handshake: to the session's side (gateway/channels.py). Not
        rate limited: a client polls by itself, as often as the server pings."""
        started = time.perf_counter()
        sid = session_id(scope["query_string"])
        side = self.channel_sessions.route(key, self.table.owner(key), sid)
        span = None if self.trace_request is None else self.trace_request(scope, key)
        if side is None:
            await _session_ended(scope, receive, send)
            self.metrics.observe(key, "gateway", 400, time.perf_counter() - started)
            if span is not None:
                span.end("gateway", "session-drained", 400)
            return
        stamp = self._stamp[side]
        status = 500
        handshake = sid is None

        async def channel_send(message: Message) -> None:
            nonlocal status, handshake
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), stamp]
            elif handshake and message["type"] == "http.response.body":
                handshake = False
                opened = handshake_sid(message.get("body", b"")) if status == 200 else None
                if opened is not None:
                    self.channel_sessions.opened(opened, side)
            await send(message)

        try:
            await self._sides[side](scope, receive, channel_send)
        finally:
            if sid is not None and status == 400:  # the side no longer knows the session
                self.channel_sessions.ended(sid)
            self.metrics.observe(key, side, status, time.perf_counter() - started)
            if span is not None:
                span.end(side, "session" if sid is not None else "manifest", status)

    async def _channel_websocket(
        self, scope: Scope, receive: Receive, send: Send, key: str
    ) -> None:
        """A Socket.IO WebSocket (an upgrade of a pinned session, or a session of its own):
        FastAPI's side only; closed once a flip away from it has drained."""
        sessions = self.channel_sessions
        side = sessions.route(key, self.table.owner(key), session_id(scope["query_string"]))
        if side != FASTAPI:
            # Drained, or a session of the WSGI side, which cannot take a socket.
            await send({"type": "websocket.close", "code": 1008})
            return
        closed = False

        async def end() -> None:
            nonlocal closed
            closed = True
            await send({"type": "websocket.close", "code": 1012})  # the client reconnects

        async def guarded_send(message: Message) -> None:
            if closed:
                return
            if message["type"] == "websocket.send" and not sessions.keeps(
                key, FASTAPI, self.table.owner(key)
            ):
                await end()
                return
            await send(message)

        async def guarded_receive() -> Message:
            message = await receive()
            if (
                message["type"] == "websocket.receive"
                and not closed
                and not sessions.keeps(key, FASTAPI, self.table.owner(key))
            ):
                await end()
                return {"type": "websocket.disconnect", "code": 1012}
            return message

        await self.modern(scope, guarded_receive, guarded_send)

    def _is_modern_only(self, scope: Scope) -> bool:
        return any(r.matches(scope)[0] != Match.NONE for r in self._modern_only)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(_child_lifespan(self.modern))
                if self.admin is not None:
                    await stack.enter_async_context(_child_lifespan(self.admin))
                self.watcher.ensure_running()
                stack.push_async_callback(self.watcher.stop)
                if self.live is not None:
                    # Started (its first read awaited) before the first request is taken,
                    # stopped before the watcher.
                    stack.push_async_callback(self.live.stop)
                    await self.live.start()
                if self.watchdog is not None:
                    # After the live state's first read (it watches what is served), and
                    # stopped before the follower.
                    stack.push_async_callback(self.watchdog.stop)
                    self.watchdog.start()
                stack.push_async_callback(self.limiter.close)
                stack.push_async_callback(self.shadow.stop)
                stack.callback(tracing.shutdown, self.settings)  # export what is queued
                lag = self.metrics.loop_lag_monitor()
                lag.start()
                stack.push_async_callback(lag.stop)
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            # Everything built so far lives as long as the process: out of the collector's
            # sight, a full collection no longer walks three apps' worth of objects.
            gc.freeze()
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})


def _decision(owner: str) -> str:
    """How the side of a request no manifest route matched was chosen, for its span."""
    return "modern-only" if owner == FASTAPI else "unmatched"


_GATEWAY_STAMP = {"X-Served-By": "gateway"}


async def _session_ended(scope: Scope, receive: Receive, send: Send) -> None:
    """What an Engine.IO server answers a poll of a session it does not know: the client
    then opens a new session (to the route's owner now)."""
    body = {"code": 1, "message": "Session ID unknown"}
    response = JSONResponse(body, status_code=400, headers=_GATEWAY_STAMP)
    await response(scope, receive, send)


async def _slash_redirect(scope: Scope, receive: Receive, send: Send, path: str) -> None:
    """werkzeug's slash redirect (`/api//videos` to `/api/videos`, `/x` to `/x/` where only
    `/x/` has a rule), as Flask sent it: 308 to the absolute URL, the query kept. The
    gateway sends it once no route is on flask, as only werkzeug's matching can tell."""
    host = host_of(scope) or "localhost"
    query = scope["query_string"].decode("latin-1")
    target = f"{scope['scheme']}://{host}{quote(path, safe=_PATH_SAFE)}"
    location = f"{target}?{query}" if query else target
    headers = {**dict(security_headers("text/html")), **_GATEWAY_STAMP, "Location": location}
    body = "" if scope["method"] == "HEAD" else redirect_body(location)
    response = HTMLResponse(body, status_code=308, headers=headers)
    await response(scope, receive, send)


async def _not_allowed(scope: Scope, receive: Receive, send: Send, allowed: frozenset[str]) -> None:
    """werkzeug's 405 where FastAPI could not tell it (a doubled slash werkzeug merges), in
    the legacy shape, with Flask's Allow."""
    err = error_for_status(405)
    headers = {**dict(EVERY_RESPONSE), **_GATEWAY_STAMP, "Allow": flask_allow(allowed)}
    response = JSONResponse(err.body(), status_code=405, headers=headers)
    await response(scope, receive, send)


# What werkzeug leaves unquoted in a URL's path.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


async def _too_many(scope: Scope, receive: Receive, send: Send, wait: int) -> None:
    """429 in the legacy shape, with the seconds until the caller's budget comes back."""
    err = RateLimited("Too many requests, retry later")
    headers = {**dict(EVERY_RESPONSE), "Retry-After": str(wait), **_GATEWAY_STAMP}
    response = JSONResponse(err.body(), status_code=err.status, headers=headers)
    await response(scope, receive, send)


class _child_lifespan:
    """Run a mounted ASGI app's own lifespan (its engine, its pools) inside ours."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._context: Any = None

    async def __aenter__(self) -> None:
        router = getattr(self.app, "router", None)
        lifespan_context = getattr(router, "lifespan_context", None)
        if lifespan_context is not None:
            self._context = lifespan_context(self.app)
            await self._context.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        if self._context is not None:
            await self._context.__aexit__(*exc)


def _legacy_route_keys(legacy: Any) -> list[str] | None:
    """The routes of a Flask app; None for other WSGI apps (nothing to check against)."""
    if not hasattr(legacy, "url_map"):
        return None
    from gateway.routes import every_route

    return [r.key for r in every_route(legacy)]


def modern_route_keys(routes: Iterable[Any]) -> list[str]:
    keys = []
    for route in flat_routes(routes):
        methods = getattr(route, "methods", None) or ()
        path = getattr(route, "path", None)
        if path is None:
            continue
        if hasattr(getattr(route, "app", None), "engineio_server"):
            # A Socket.IO server mounted in the app (python-socketio's ASGIApp).
            keys.append(f"{mf.CHANNEL} {path.rstrip('/')}/")
            continue
        keys += [f"{m} {path}" for m in sorted(methods) if m != "HEAD"]
    return keys


def create_gateway(
    settings: Settings,
    *,
    legacy: Any = None,
    modern: ASGIApp,
    manifest: Path | str | None = None,
    admin_auth: AdminAuth | None = None,
    legacy_factory: Callable[[], Any] | None = None,
    flask_session: SessionCookieCodec | None = None,
) -> Gateway:
    """Put `legacy` (a Flask or any WSGI app) and `modern` (FastAPI or any ASGI app) behind
    one router driven by the manifest (a path, `settings.manifest` by default). Raises
    ManifestError when the manifest is invalid for these two apps. The admin API
    (/_figway/) admits the bearer token `FIGWAY_ADMIN_TOKEN`, and whoever `admin_auth`
    admits (gateway.admin.AdminAuth).

    Instead of `legacy`, `legacy_factory` (no arguments, returns the legacy app) defers
    building the legacy side, and importing Flask, until some route is owned by flask:
    at once if the manifest says so, else at a flip back (gateway/legacy_side.py); the
    legacy routes are checked from then on. `flask_session` is then the Flask session's
    codec the FastAPI side gets meanwhile (else it is read from the app once built)."""
    if (legacy is None) == (legacy_factory is None):
        raise TypeError("create_gateway takes legacy or legacy_factory (one of them)")
    path = Path(manifest) if manifest is not None else settings.manifest
    loaded = mf.load(path)
    raw_routes: list[BaseRoute] | None = getattr(modern, "routes", None)
    modern_routes = flat_routes(raw_routes) if raw_routes is not None else None
    modern_keys = modern_route_keys(modern_routes) if modern_routes is not None else None
    metrics = GatewayMetrics()
    # The legacy routes, known once the legacy app is built (at once when it is given).
    legacy_keys: list[list[str] | None] = [None]

    def built(app: Any) -> None:
        legacy_keys[0] = _legacy_route_keys(app)
        if gateway_ref and gateway_ref[0].flask_session is None:
            gateway_ref[0].flask_session = flask_session_codec(app)

    gateway_ref: list[Gateway] = []
    side = LegacySide(
        settings,
        legacy_factory if legacy_factory is not None else lambda: legacy,
        on_reject=lambda status: metrics.rejected.labels(str(status)).inc(),
        on_built=built,
    )

    def check(m: mf.Manifest, table: RouteTable) -> list[mf.Problem]:
        # `m` has the owners the table serves by (the live state's over the file's).
        if table.needs_legacy:
            # A reload's: built here, in the watcher's thread, before the table that needs
            # it is swapped in; refused (the last good table stays) when it cannot be.
            try:
                side.ensure()
            except LegacyUnavailable as exc:
                return [mf.Problem(str(m.path), None, None, str(exc))]
            except Exception as exc:  # the app's own factory failed: logged, not served
                log.exception("building the legacy app failed")
                problem = f"the legacy app could not be built: {exc!r}"
                return [mf.Problem(str(m.path), None, None, problem)]
        return mf.check_routes(m, legacy_keys[0], modern_keys)

    if legacy is not None or any(e.owner == FLASK for e in loaded.entries):
        # Given built, or needed from the start: built now, and a failure is the caller's
        # (LegacyUnavailable when Flask is not installed).
        side.ensure()
    default_limit = settings.rate_limit_default.strip() or None
    problems = check(loaded, RouteTable.from_manifest(loaded, default_limit=None))
    if problems:
        raise mf.ManifestError(problems)
    if default_limit is not None:
        try:
            parse_limit(default_limit)
        except ValueError as exc:
            raise SettingsError(f"FIGWAY_RATE_LIMIT_DEFAULT: {exc}") from exc

    metrics.manifest_ok.set(1)
    manifest_keys = {mf.twin_key(e.key) for e in loaded.entries}
    modern_only = [
        r
        for r in (modern_routes or ())
        if not any(mf.twin_key(k) in manifest_keys for k in modern_route_keys([r]))
    ]

    def on_swap(old: RouteTable, new: RouteTable) -> None:
        before = old.owners()
        for key, owner in new.owners().items():
            if before.get(key) != owner:
                metrics.flips.labels(owner).inc()
        metrics.manifest_generation.set(new.generation)
        modes = old.states()
        gateway.shadow.started(
            key
            for key, state in new.states().items()
            if state.mode == SHADOW and (key not in modes or modes[key].mode != SHADOW)
        )

    watcher = ManifestWatcher(
        path,
        RouteTable.from_manifest(loaded, default_limit=default_limit),
        manifest=loaded,
        check=check,
        on_swap=on_swap,
        poll_s=settings.manifest_poll_s,
    )
    gateway = Gateway(
        settings=settings,
        legacy=side,
        modern=modern,
        watcher=watcher,
        metrics=metrics,
        modern_only=modern_only,
    )
    gateway.live = LiveFollower(settings, watcher)
    gateway.watchdog = Watchdog(gateway)
    gateway_ref.append(gateway)
    gateway.modern_keys = modern_keys
    gateway.flask_session = flask_session
    if gateway.flask_session is None and side.built:
        gateway.flask_session = flask_session_codec(side.app)
    from gateway.admin import admin_check, create_admin_app
    from shared.web.policy import SameSiteWrites, SecurityHeaders

    # The admin API takes the app's session cookie: the same HTTP rules as the twins.
    admin = create_admin_app(gateway, admin_auth)
    admin.add_middleware(SameSiteWrites, cookie_name=settings.session_cookie_name)
    admin.add_middleware(SecurityHeaders)
    gateway.admin = admin
    gateway.is_admin = admin_check(settings, admin_auth)
    return gateway
