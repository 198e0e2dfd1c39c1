"""Dependencies: the database connection per request, who is calling, the auth levels.

The native data path, and how a twin is converted to it (videos and auth/me are; convert
artists, playlists and the rest the same way):

1. Statements in shared/services/<resource>.py: SQLAlchemy Core on the tables, pure, built
   once where they can be (a module constant with `bindparam`s, or an lru_cache'd builder
   keyed by frozen query objects), with a `*_params(...)` function that validates the
   inputs and raises the legacy 404/400 before any IO.
2. Answers from rows in the same module (`page_json(rows, page)` and the like), calling
   the serializers of shared/serializers.py, which read row mappings (column names as
   keys), never ORM objects.
3. The legacy side executes them on its sync Session:
   `session.execute(STMT, params).mappings().all()` -> the answer function.
4. The twin declares `db: ConnectionDep` after its caller (`_user: Reader`) and awaits the
   same statement: `(await db.execute(STMT, params)).mappings().all()` -> the same answer
   function. No `run_sync`, no AsyncSession, no ORM object on the request path.
4b. Work of several statements (a write: look up, check, insert, read back) is a plan
   (shared/db/plan.py): a generator of Core statements in shared/services, written once.
   The legacy side runs it with `run(db(), plan, *args)` then commits; the twin with
   `await arun(db, plan, *args)` then `await db.commit()` (videos' writes are the model).
5. The caller (`Caller`, shared.services.auth) is one indexed lookup on that connection;
   a route needs its id and role, not a User row.

No twin runs sync code through a bridge: tests/test_no_bridge.py reads fastapi_app/ and
fails on a `run_sync` of a session or connection, an ORM session, or a sync dependency.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import HTTPConnection

from fastapi_app.state import Modern
from shared.auth.roles import AuthLevel, has_role
from shared.clock import utcnow
from shared.config import Settings
from shared.db.engine import end_connection
from shared.errors import AuthRequired, Forbidden
from shared.services import auth as auth_service
from shared.services.auth import Caller

SESSION_TOKEN_KEY = "sid"  # noqa: S105 - the key inside the Flask session, not a secret


# Trivial dependencies are async on purpose: FastAPI runs a sync `def` dependency in a
# worker thread, a hop that costs more than the work.
async def modern(request: Request) -> Modern:
    return state_of(request)


def state_of(connection: HTTPConnection) -> Modern:
    state: Modern = connection.app.state.figway
    return state


ModernDep = Annotated[Modern, Depends(modern)]


async def settings(state: ModernDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(settings)]


# Where the request's connection waits for db_session (in the ASGI scope: per request).
_CONNECTION = "figway.db_connection"


async def db_connection(request: Request, state: ModernDep) -> AsyncIterator[AsyncConnection]:
    """The request's one pool checkout, for the handler's statements: the one the caller
    was resolved on when there was a caller to look up (its dependency, solved first,
    opened it and closes it), else a checkout of its own. Closing it rolls back what was
    not committed (shared.db.dialects: only when a write left a transaction open)."""
    opened: AsyncConnection | None = request.scope.get(_CONNECTION)
    if opened is not None:
        yield opened
        return
    async with _checked_out(request, state) as connection:
        yield connection


@contextlib.asynccontextmanager
async def _checked_out(connection: HTTPConnection, state: Modern) -> AsyncIterator[AsyncConnection]:
    db = await state.engine.connect()
    connection.scope[_CONNECTION] = db
    try:
        yield db
    finally:
        # This may run after the response has started: an error here cannot be answered
        # any more, so end_connection keeps a lost connection from raising.
        await end_connection(db)


ConnectionDep = Annotated[AsyncConnection, Depends(db_connection)]


async def optional_user(request: Request, state: ModernDep) -> AsyncIterator[Caller | None]:
    """The caller, looked up on the request's connection, which this opens only when
    there are credentials to look up: an anonymous request to a protected route is the
    401 it is on the legacy side, database or no database."""
    lookup = _lookup(request, state)
    if lookup is None:
        yield None
        return
    async with _checked_out(request, state) as db:
        yield await _look_up(db, *lookup)


def _lookup(connection: HTTPConnection, state: Modern) -> tuple[Any, dict[str, Any]] | None:
    """The caller's statement and parameters, from the bearer token or the session
    cookie; None when neither names anyone (no lookup at all)."""
    header = connection.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        params = auth_service.bearer_params(state.settings, header[7:].strip())
        return (auth_service.BEARER_CALLER, params) if params is not None else None
    data = state.cookies.loads(connection.cookies.get(state.cookies.name))
    sid = data.get(SESSION_TOKEN_KEY)
    if not isinstance(sid, str):
        return None
    return auth_service.SESSION_CALLER, auth_service.session_params(sid, utcnow())


async def _look_up(db: AsyncConnection, statement: Any, params: dict[str, Any]) -> Caller | None:
    row = (await db.execute(statement, params)).mappings().one_or_none()
    if row is None:
        return None
    if statement is auth_service.SESSION_CALLER:
        touch = auth_service.touch_params(row, params["now"])
        if touch is not None:
            await db.execute(auth_service.TOUCH_SESSION, touch)
            await db.commit()  # the throttled last_seen_at stays, whatever the handler does
    return Caller.of(row)


async def caller(connection: HTTPConnection, state: Modern, db: AsyncConnection) -> Caller | None:
    """Who is calling, by bearer token or session cookie (a request or a WebSocket): one
    indexed lookup, the statements the legacy side runs (shared.services.auth)."""
    lookup = _lookup(connection, state)
    return await _look_up(db, *lookup) if lookup is not None else None


OptionalUser = Annotated[Caller | None, Depends(optional_user)]


def require(level: AuthLevel) -> Callable[..., Coroutine[Any, Any, Caller | None]]:
    """A dependency enforcing `level`: 401 without a user, 403 below it (legacy shape).

    `public` only declares the level: it resolves no user and opens no session (a public
    route that wants the caller, like /auth/check, asks for OptionalUser itself).
    """

    async def public() -> None:
        return None

    async def dependency(user: OptionalUser) -> Caller | None:
        return check_level(user, level)

    chosen: Callable[..., Coroutine[Any, Any, Caller | None]] = (
        public if level == "public" else dependency
    )
    chosen._figway_auth = level  # type: ignore[attr-defined]
    return chosen


def check_level(user: Caller | None, level: AuthLevel) -> Caller:
    """401 without a user, 403 below `level` (legacy shape)."""
    if user is None:
        raise AuthRequired()
    if not has_role(user.role, level):
        raise Forbidden()
    return user


def auth_level(endpoint_dependencies: list[Any]) -> str | None:
    """The level a route declared through `require`, for the manifest checks."""
    for dep in endpoint_dependencies:
        level = getattr(dep.call, "_figway_auth", None)
        if level is not None:
            return str(level)
        nested = auth_level(dep.dependencies)
        if nested is not None:
            return nested
    return None
