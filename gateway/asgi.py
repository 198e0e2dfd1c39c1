"""The ASGI application uvicorn serves (`figway serve`), built from Settings at start-up.

The legacy Flask app is built (and Flask imported) only once some route is owned by flask
(gateway/legacy_side.py): with every route on FastAPI, the process has no Flask in it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request

from fastapi_app import create_fastapi_app
from fastapi_app.deps import caller, check_level
from fastapi_app.state import Modern
from gateway.admin import AdminAuth
from gateway.app import Gateway, create_gateway
from shared.auth.session_cookie import SessionCookieCodec
from shared.config import Settings


def create_figway(settings: Settings | None = None) -> Gateway:
    """Our two apps behind the gateway, as the manifest says."""
    settings = settings or Settings()
    modern = create_fastapi_app(settings)

    def legacy() -> Any:
        from legacy_flask import create_app

        return create_app(settings)

    return create_gateway(
        settings,
        legacy_factory=legacy,
        modern=modern,
        manifest=settings.manifest,
        admin_auth=demo_admin(modern),
        # What legacy_flask.create_app configures (CookieSettings.from_settings), known
        # before (or without) building it.
        flask_session=SessionCookieCodec(settings),
    )


def demo_admin(modern: FastAPI) -> AdminAuth:
    """The demo's admin API users: its own users with the admin role, by session cookie
    or bearer token, looked up as the twins look a caller up (401 and 403 as they answer),
    on the twins' own pool (the admin API has none of the demo's)."""
    state: Modern = modern.state.figway

    async def admin(request: Request) -> str:
        async with state.engine.connect() as db:
            found = await caller(request, state, db)
        return check_level(found, "admin").username

    return admin


def factory() -> Gateway:
    """For `uvicorn --factory gateway.asgi:factory` (every worker builds its own)."""
    return create_figway()
