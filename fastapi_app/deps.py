"""Dependencies: the async session per request, who is calling, the auth levels."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from fastapi_app.state import Modern
from shared.auth.roles import AuthLevel, has_role
from shared.config import Settings
from shared.db.engine import end_session
from shared.db.models import User
from shared.errors import AuthRequired, Forbidden
from shared.services import auth as auth_service

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


async def db_session(state: ModernDep) -> AsyncIterator[AsyncSession]:
    """One AsyncSession per request, never shared between tasks; rolled back unless committed."""
    session = state.sessions()
    try:
        yield session
    finally:
        # Closing runs after the response has started: an error here cannot be answered
        # any more, so end_session keeps a lost connection from raising.
        await session.run_sync(end_session)


SessionDep = Annotated[AsyncSession, Depends(db_session)]


async def optional_user(request: Request, state: ModernDep, session: SessionDep) -> User | None:
    return await caller(request, state, session)


async def caller(connection: HTTPConnection, state: Modern, session: AsyncSession) -> User | None:
    """Who is calling, by bearer token or session cookie (a request or a WebSocket)."""
    header = connection.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        token = header[7:].strip()
        return await session.run_sync(auth_service.user_for_bearer, state.settings, token)
    data = state.cookies.loads(connection.cookies.get(state.cookies.name))
    sid = data.get(SESSION_TOKEN_KEY)
    if not isinstance(sid, str):
        return None
    user = await session.run_sync(auth_service.user_for_session_token, sid)
    await session.commit()  # keeps the throttled last_seen_at, as the Flask side does
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]


def require(level: AuthLevel) -> Callable[..., Coroutine[Any, Any, User | None]]:
    """A dependency enforcing `level`: 401 without a user, 403 below it (legacy shape).

    `public` only declares the level: it resolves no user and opens no session (a public
    route that wants the caller, like /auth/check, asks for OptionalUser itself).
    """

    async def public() -> None:
        return None

    async def dependency(user: OptionalUser) -> User | None:
        return check_level(user, level)

    chosen: Callable[..., Coroutine[Any, Any, User | None]] = (
        public if level == "public" else dependency
    )
    chosen._figway_auth = level  # type: ignore[attr-defined]
    return chosen


def check_level(user: User | None, level: AuthLevel) -> User:
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
