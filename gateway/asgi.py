"""The ASGI application uvicorn serves (`figway serve`), built from Settings at start-up."""

from __future__ import annotations

from fastapi_app import create_fastapi_app
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
    )


def factory() -> Gateway:
    """For `uvicorn --factory gateway.asgi:factory` (every worker builds its own)."""
    return create_figway()
