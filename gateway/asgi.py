"""The ASGI application uvicorn serves (`figway serve`), built from Settings at start-up."""

from __future__ import annotations

from starlette.requests import Request

from fastapi_app import create_fastapi_app
from fastapi_app.deps import caller, check_level, state_of
from gateway.app import Gateway, create_gateway
from legacy_flask import create_app
from shared.config import Settings


def create_figway(settings: Settings | None = None) -> Gateway:
    """Our two apps behind the gateway, as the manifest says."""
    settings = settings or Settings()
    return create_gateway(
        settings,
        legacy=create_app(settings),
        modern=create_fastapi_app(settings),
        manifest=settings.manifest,
        admin_auth=demo_admin,
    )


async def demo_admin(request: Request) -> str:
    """The demo's admin API users: its own users with the admin role, by session cookie
    or bearer token, looked up as the twins look a caller up (401 and 403 as they answer)."""
    state = state_of(request)
    async with state.engine.connect() as db:
        found = await caller(request, state, db)
    return check_level(found, "admin").username


def factory() -> Gateway:
    """For `uvicorn --factory gateway.asgi:factory` (every worker builds its own)."""
    return create_figway()
