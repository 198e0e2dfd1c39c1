"""The admin HTTP API under /_figway/: status, flips, rollouts, rollbacks, canaries, history,
metrics.

Who may use it is pluggable (`admin_actor`): the bearer token `FIGWAY_ADMIN_TOKEN` (or the
dashboard's sign-in cookie that proves it, gateway/dashboard/session.py), and whatever
`admin_auth` callable the gateway was given (figway's demo passes one that admits its own
admin users, gateway/asgi.py). Without either, nobody. The dashboard (GET /_figway/,
gateway/dashboard/page.py) shows all of it in a browser and calls these endpoints.
Flips go through gateway.changes.change, as the CLI's do. This process never runs parity
scenarios (nor imports the parity package): a move to fastapi needs a passing verdict that
`figway verify` recorded for the code as it is now, or `force`. A canary's weight is
checked here and set through gateway.canary.set_weight, as `figway canary` sets it.
It works for any app: it needs figway's own tables only (gateway/state, in the database
`Settings.state_url` names), never the app's, and imports nothing of the demo's.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import Scope

from gateway import canary, live, shadow
from gateway import changes as ops
from gateway import manifest as mf
from gateway.dashboard import page as dashboard
from gateway.dashboard import session as dashboard_session
from gateway.legacy_side import LegacyUnavailable
from gateway.state import state_settings
from shared.config import Settings
from shared.db.engine import LazySyncSessions, end_session
from shared.errors import (
    AppError,
    AuthRequired,
    Conflict,
    Forbidden,
    Unavailable,
    ValidationFailed,
)
from shared.web.errors import register_error_handlers
from shared.web.origin import STATE_CHANGING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.app import Gateway

log = logging.getLogger("figway.gateway")
# Decides from the request whether it may use the admin API: answers the actor the audit
# history records, or raises AuthRequired (401) or Forbidden (403).
AdminAuth = Callable[[Request], Awaitable[str]]
TOKEN_ACTOR = "admin-token"  # noqa: S105 - the actor the history records, not a secret
# Connections to the state database: a flip (its audit rows) and a history read at once.
STATE_POOL = 2


async def admin_actor(request: Request) -> str:
    """The admin token first (compared in constant time), then the gateway's hook."""
    return await actor_of(request, request.app.state.settings, request.app.state.admin_auth)


async def actor_of(request: Request, settings: Settings, hook: AdminAuth | None) -> str:
    token = settings.admin_token
    header = request.headers.get("authorization", "")
    if (
        token is not None
        and header[:7].lower() == "bearer "
        and hmac.compare_digest(header[7:].strip().encode(), token.get_secret_value().encode())
    ):
        return TOKEN_ACTOR
    signed = request.cookies.get(dashboard_session.COOKIE)
    if (
        token is not None
        and signed is not None
        and dashboard_session.valid(signed, token.get_secret_value())
    ):
        # A browser's cookie: its writes must come from the dashboard's own script, the
        # one that sets the header (a cross-site form cannot).
        if (
            request.method in STATE_CHANGING
            and request.headers.get(dashboard_session.CSRF_HEADER) != "1"
        ):
            raise Forbidden(
                f"Signed in by cookie: a change needs the {dashboard_session.CSRF_HEADER}"
                " header (the dashboard's buttons send it)"
            )
        return TOKEN_ACTOR
    if hook is not None:
        return await hook(request)
    raise AuthRequired("An admin token is required (FIGWAY_ADMIN_TOKEN)")


def admin_check(settings: Settings, hook: AdminAuth | None) -> Callable[[Scope], Awaitable[bool]]:
    """Whether a request outside the admin API comes from an admin, as the admin API
    decides it (for X-Figway-Side, gateway/canary.py). False, never an error, for anyone
    else, and when the hook fails: the request is then served as if it had not asked."""

    async def is_admin(scope: Scope) -> bool:
        try:
            await actor_of(Request(scope), settings, hook)
        except AppError:  # 401, 403: not an admin
            return False
        except Exception:  # the hook's own fault (its database down): not known an admin
            log.warning("admin check for X-Figway-Side failed; header ignored", exc_info=True)
            return False
        return True

    return is_admin


Admin = Annotated[str, Depends(admin_actor)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: str | None = Field(None, max_length=2000)


class FlipBody(_Body):
    route: str = Field(min_length=3, max_length=255)
    to: Literal["flask", "fastapi"]
    force: bool = False


class CanaryBody(_Body):
    route: str = Field(min_length=3, max_length=255)
    # A whole percentage (strict: not "30", not 30.0, not true); null ends the canary.
    weight: int | None = Field(ge=0, le=100)


class PhaseBody(_Body):
    phase: int
    force: bool = False


class ShadowBody(_Body):
    route: str = Field(min_length=3, max_length=255)
    # The percentage of the route's safe requests replayed; null stops shadowing.
    sample: int | None = Field(ge=1, le=100)


class RollbackBody(_Body):
    phase: int | None = None
    route: str | None = None
    all: bool = False


def create_admin_app(gateway: Gateway, admin_auth: AdminAuth | None = None) -> FastAPI:
    settings = gateway.settings
    # figway's tables are read and written by sync code (the flip path holds the manifest's
    # file lock), so always in a thread, off the loop: sync sessions of a small pool of its
    # own on the state database, made at the first use.
    state = LazySyncSessions(state_settings(settings, STATE_POOL))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await asyncio.to_thread(state.dispose)

    app = FastAPI(
        title="figway admin", openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.admin_auth = admin_auth
    register_error_handlers(app)
    path = gateway.watcher.path
    publish = live.publisher(settings.redis_url)

    async def change(
        planner: ops.Planner,
        action: str,
        reason: str | None,
        actor: str,
        force: bool = False,
        to_flask: bool = False,
    ) -> dict[str, Any]:
        if to_flask:
            # The legacy side first (built once, off the loop: gateway/legacy_side.py), so
            # a flip it cannot serve is refused before the manifest says otherwise.
            try:
                await asyncio.to_thread(gateway.legacy.ensure)
            except LegacyUnavailable as exc:
                raise Conflict(str(exc)) from exc
        try:
            # File locking, the verdict check, writing and the audit block: off the loop.
            done = await asyncio.to_thread(
                ops.change,
                path,
                planner,
                twins=gateway.modern_keys,
                sessions=state,
                actor=actor,
                source="api",
                action=action,
                reason=reason,
                force=force,
                publish=publish,
            )
        except ops.ChangeRefused as exc:  # NotVerified too: the routes are named
            raise Conflict(str(exc)) from exc
        except mf.ManifestError as exc:
            raise Conflict(f"the manifest is invalid: {exc}") from exc
        except ops.ChangeFailed as exc:  # the audit could not be written: nothing changed
            # The file held the change for a moment before it was put back, and the
            # watcher's poll may have served it: this process serves the file as it is now
            # before answering, never a change the answer says did not happen.
            await gateway.watcher.refresh(force=True)
            raise Unavailable(str(exc)) from exc
        if done:
            # This process serves by it before answering (the others within a second).
            if done.version is not None and gateway.live is not None:
                await gateway.live.refresh()
            else:
                await gateway.watcher.refresh(force=True)
        return {
            "changed": [c.__dict__ for c in done],
            "generation": gateway.table.generation,
            "live_version": done.version,
        }

    @app.get("/_figway/status")
    async def status(_user: Admin) -> dict[str, Any]:
        manifest = await asyncio.to_thread(_load_or_none, path)
        return {
            "manifest": str(path),
            "valid": not gateway.watcher.problems,
            "problems": gateway.watcher.problems,
            "generation": gateway.table.generation,
            "phases": ops.status(manifest) if manifest else [],
            "serving": gateway.table.owners(),
            "legacy_in_flight": gateway.legacy.in_flight,
            "live": _live_status(gateway, manifest),
            # The auto-rollback gates: each watched route's figures in this process
            # (gateway/rollback.py), and the routes it saw trip.
            "gates": gateway.watchdog.status() if gateway.watchdog is not None else [],
        }

    @app.post("/_figway/flip")
    async def flip(body: FlipBody, actor: Admin) -> dict[str, Any]:
        return await change(
            _planner(ops.plan_flip, body.route, body.to),
            "flip",
            body.reason,
            actor,
            body.force,
            to_flask=body.to == "flask",
        )

    @app.post("/_figway/rollout")
    async def rollout(body: PhaseBody, actor: Admin) -> dict[str, Any]:
        return await change(
            ops.plan_phase(body.phase, "fastapi"), "rollout", body.reason, actor, body.force
        )

    @app.post("/_figway/rollback")
    async def rollback(body: RollbackBody, actor: Admin) -> dict[str, Any]:
        chosen = [body.phase is not None, body.route is not None, body.all]
        if sum(chosen) != 1:
            raise ValidationFailed("give exactly one of phase, route or all")
        if body.route is not None:
            planner = _planner(ops.plan_flip, body.route, "flask")
        elif body.phase is not None:
            planner = ops.plan_phase(body.phase, "flask")
        else:
            planner = ops.plan_all("flask")
        return await change(planner, "rollback", body.reason, actor, to_flask=True)

    async def live_change(
        write: Callable[..., ops.Done],
        route: str,
        value: int | None,
        *,
        other_side: bool,
        reason: str | None,
        actor: str,
    ) -> ops.Done:
        """A canary's weight or a shadow mode (`write`: canary.set_weight, shadow.set_shadow),
        checked already: the legacy side built first when it will serve (`other_side`), the
        live state's write (its transaction, its audit row), both off the loop; this process
        serves by it before it answers."""
        try:
            if other_side:
                await asyncio.to_thread(gateway.legacy.ensure)
            done = await asyncio.to_thread(
                write,
                path,
                state,
                route,
                value,
                actor=actor,
                source="api",
                reason=reason,
                publish=publish,
            )
        except LegacyUnavailable as exc:
            raise Conflict(str(exc)) from exc
        except ops.ChangeRefused as exc:
            raise Conflict(str(exc)) from exc
        except ops.ChangeFailed as exc:
            raise Unavailable(str(exc)) from exc
        if gateway.live is not None:
            await gateway.live.refresh()
        return done

    @app.post("/_figway/canary")
    async def set_canary(body: CanaryBody, actor: Admin) -> dict[str, Any]:
        try:
            manifest = await asyncio.to_thread(mf.load, path)
            route = canary.check_weight(manifest, body.route, body.weight, gateway.modern_keys)
        except ops.ChangeRefused as exc:
            raise Conflict(str(exc)) from exc
        except mf.ManifestError as exc:
            raise Conflict(f"the manifest is invalid: {exc}") from exc
        # A weight sends some callers to flask: its side is needed.
        done = await live_change(
            canary.set_weight,
            route,
            body.weight,
            other_side=bool(body.weight),
            reason=body.reason,
            actor=actor,
        )
        return {"route": route, "weight": body.weight, "live_version": done.version}

    @app.get("/_figway/history")
    async def history(
        _user: Admin,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        route: str | None = None,
    ) -> dict[str, Any]:
        try:
            rows = await asyncio.to_thread(_read_history, state, limit, route)
        except SQLAlchemyError as exc:
            raise Unavailable(ops.state_problem(exc)) from exc
        return {"history": rows}

    @app.get("/_figway/shadow")
    async def shadow_figures(_user: Admin, route: str | None = None) -> dict[str, Any]:
        """Shadow traffic, fleet-wide (as `figway shadow-report`): this process's figures
        written first, so they are in the sums."""
        key = mf.normalize_key(route) if route else None
        try:
            await gateway.shadow.flush()
            rows = await asyncio.to_thread(
                _read_shadow,
                state,
                key,
                settings.shadow_absolute_threshold,
                settings.shadow_relative_threshold,
            )
        except SQLAlchemyError as exc:
            raise Unavailable(ops.state_problem(exc)) from exc
        return {
            "routes": rows,
            "absolute_threshold": settings.shadow_absolute_threshold,
            "relative_threshold": settings.shadow_relative_threshold,
        }

    @app.post("/_figway/shadow")
    async def shadow_route(body: ShadowBody, actor: Admin) -> dict[str, Any]:
        routes = list(gateway.table.states())
        try:
            key = shadow.check_shadow_request(body.route, body.sample, routes)
        except ops.ChangeRefused as exc:
            raise Conflict(str(exc)) from exc
        # The other side answers the replays: when it is Flask's, it is needed.
        done = await live_change(
            shadow.set_shadow,
            key,
            body.sample,
            other_side=body.sample is not None,
            reason=body.reason,
            actor=actor,
        )
        return {"route": key, "sample": body.sample, "live_version": done.version}

    async def read_history(limit: int) -> list[dict[str, Any]]:
        try:
            return await asyncio.to_thread(_read_history, state, limit, None)
        except SQLAlchemyError as exc:
            raise Unavailable(ops.state_problem(exc)) from exc

    async def read_shadow() -> list[dict[str, Any]]:
        try:
            await gateway.shadow.flush()
            return await asyncio.to_thread(
                _read_shadow,
                state,
                None,
                settings.shadow_absolute_threshold,
                settings.shadow_relative_threshold,
            )
        except SQLAlchemyError as exc:
            raise Unavailable(ops.state_problem(exc)) from exc

    dashboard.install(
        app,
        gateway,
        actor=admin_actor,
        status=status,
        history=read_history,
        shadow=read_shadow,
    )

    @app.get("/_figway/metrics")
    async def metrics(_user: Admin) -> Response:
        gateway.metrics.manifest_ok.set(0 if gateway.watcher.problems else 1)
        gateway.metrics.legacy_in_flight.set(gateway.legacy.in_flight)
        return Response(
            gateway.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return app


def _live_status(gateway: Gateway, manifest: mf.Manifest | None) -> dict[str, Any]:
    """The live state this process serves by: its version (None: not created, the file
    decides), why it cannot be followed if so, and where it differs from the file."""
    follower = gateway.live
    if follower is None or not follower.enabled:
        return {"following": False, "version": None, "problems": [], "drift": []}
    problems = list(gateway.watcher.live_problems)
    if follower.problem is not None:
        problems.insert(0, follower.problem)
    drift = live.drift(manifest, follower.states) if manifest is not None else []
    return {
        "following": True,
        "version": follower.version if follower.states is not None else None,
        "problems": problems,
        "drift": [
            {"route": d.route, "file": d.file, "live": d.live.owner, "state": live.describe(d.live)}
            for d in drift
        ],
    }


def _planner(factory: Any, *args: Any) -> ops.Planner:
    try:
        planner: ops.Planner = factory(*args)
    except ops.ChangeRefused as exc:
        raise Conflict(str(exc)) from exc
    return planner


def _load_or_none(path: Any) -> mf.Manifest | None:
    try:
        return mf.load(path)
    except mf.ManifestError:
        return None


def _read_shadow(
    sessions: Callable[[], Session], route: str | None, absolute: float, relative: float
) -> list[dict[str, Any]]:
    session = sessions()
    try:
        return shadow.shadow_report(session, route, absolute, relative)
    finally:
        end_session(session)


def _read_history(
    sessions: Callable[[], Session], limit: int, route: str | None
) -> list[dict[str, Any]]:
    session = sessions()
    try:
        return ops.history(session, limit, route)
    finally:
        end_session(session)
