"""The native async twins of the legacy routes, built by create_fastapi_app(settings)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from fastapi_app import convertors  # noqa: F401 - Flask's <int:> for the routes below
from fastapi_app.docs import install_docs, install_openapi
from fastapi_app.pages import not_found_page
from fastapi_app.query import FlaskQueryString
from fastapi_app.realtime import ModernChannel
from fastapi_app.routers import (
    admin,
    artists,
    auth,
    downloads,
    health,
    metadata,
    new_pages,
    pages,
    playlists,
    static,
    streams,
    thumbnails,
    users,
    videos,
)
from fastapi_app.routers import settings as settings_routes
from fastapi_app.session import SlidingSession
from fastapi_app.state import Modern
from shared import __version__, realtime
from shared.config import Settings
from shared.logs import configure_logging
from shared.web.errors import register_error_handlers
from shared.web.hosts import TrustedHosts
from shared.web.methods import FlaskMethods
from shared.web.policy import SameSiteWrites, SecurityHeaders, TrustedHostsOnly

ROUTERS = (
    health.router,
    auth.router,
    users.router,
    settings_routes.router,
    artists.router,
    videos.router,
    playlists.router,
    metadata.router,
    admin.router,
    streams.router,
    thumbnails.router,
    downloads.router,
    pages.router,
    new_pages.router,
    static.router,
)


class _FigwayAPI(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's ServerErrorMiddleware (the outermost of its own stack), so the
        # 500s it answers carry the security headers too.
        return SecurityHeaders(super().build_middleware_stack())


def create_fastapi_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # The app's own log, which GET /api/admin/logs reads back: the FastAPI app writes it
    # too, as it may run without the Flask app that used to set it up.
    configure_logging(settings.log_path)
    state = Modern.create(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.start()
        yield
        await state.aclose()

    app = _FigwayAPI(
        title="figway",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Flask answers /api/videos/ with a 404, never a redirect to /api/videos.
        redirect_slashes=False,
    )
    app.state.figway = state
    # Inside the sliding session, as Flask re-signs the cookie on its 403 too.
    app.add_middleware(SameSiteWrites, cookie_name=settings.session_cookie_name)
    app.add_middleware(SlidingSession, codec=state.cookies)
    app.add_middleware(FlaskQueryString)  # before routing: the handlers declare what they read
    app.add_middleware(FlaskMethods, routes=lambda: app.router.routes)
    # Outermost: the gateway checks the host too, but this app may be served alone.
    app.add_middleware(TrustedHostsOnly, hosts=TrustedHosts(settings.trusted_hosts))
    register_error_handlers(app, not_found_page=not_found_page(state.pages))
    for router in ROUTERS:
        app.include_router(router)
    # The Socket.IO channel's twin (the legacy one is Flask-SocketIO's): kept out of the
    # OpenAPI document, which describes HTTP routes.
    app.mount(f"/{realtime.PATH}", ModernChannel(state).app, name="socketio")
    install_openapi(app)
    install_docs(app)
    return app
