"""The ASGI application uvicorn serves (`figway serve`), built from Settings at start-up."""

from __future__ import annotations

from a2wsgi import WSGIMiddleware

from legacy_flask import create_app
from shared.config import Settings


def create_asgi_app(settings: Settings | None = None) -> WSGIMiddleware:
    """The legacy Flask app behind a2wsgi; the gateway issue puts the router in front."""
    settings = settings or Settings()
    # Flask's WSGI signature is looser than a2wsgi's typed one; the protocol is the same.
    return WSGIMiddleware(create_app(settings), workers=settings.db_pool_size)  # type: ignore[arg-type]


def factory() -> WSGIMiddleware:
    """For `uvicorn --factory gateway.asgi:factory` (every worker builds its own)."""
    return create_asgi_app()
