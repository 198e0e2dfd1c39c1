"""The native async twins of the legacy routes, built by create_fastapi_app(settings)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fastapi_app.docs import install_openapi
from fastapi_app.errors import register_error_handlers
from fastapi_app.routers import artists, auth, health, playlists, users, videos
from fastapi_app.routers import settings as settings_routes
from fastapi_app.session import SlidingSession
from fastapi_app.state import Modern
from shared import __version__
from shared.auth.session_cookie import SessionCookieCodec
from shared.config import Settings
from shared.db.engine import async_session_factory, create_async_engine

ROUTERS = (
    health.router,
    auth.router,
    users.router,
    settings_routes.router,
    artists.router,
    videos.router,
    playlists.router,
)


def create_fastapi_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # The engine opens no connection until first used, on the loop that serves the app.
    engine = create_async_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(title="figway", version=__version__, lifespan=lifespan)
    cookies = SessionCookieCodec(settings)
    app.state.figway = Modern(
        settings=settings,
        engine=engine,
        sessions=async_session_factory(engine),
        cookies=cookies,
    )
    app.add_middleware(SlidingSession, codec=cookies)
    register_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_openapi(app)
    return app
