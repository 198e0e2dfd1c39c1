"""`make run`: everything on embedded defaults in one process, ready for a first look."""

from __future__ import annotations

import logging
import socket
import threading
from urllib.parse import urlsplit

import uvicorn

from shared.config import Settings
from shared.db.engine import create_sync_engine, sync_sessionmaker
from shared.db.migrate import upgrade
from shared.demo import seed_demo

log = logging.getLogger("figway.embedded")


def run_embedded(settings: Settings, *, host: str, port: int) -> int:
    print(f"figway: database {settings.database_url}")
    upgrade(settings.database_url)
    engine = create_sync_engine(settings)
    try:
        seed_demo(settings, sync_sessionmaker(engine), say=lambda line: print(f"figway: {line}"))
    finally:
        engine.dispose()
    if "metadata_base_url" not in settings.model_fields_set:
        _start_fake_provider(settings.metadata_base_url)
    print(f"figway: serving on http://{host}:{port}/  (log in at /login)")
    uvicorn.run("gateway.asgi:factory", factory=True, host=host, port=port, log_level="info")
    return 0


def _start_fake_provider(base_url: str) -> None:
    """No provider configured: serve the local fake at the default address, in a thread."""
    from shared.fakes.metadata_provider import create_provider_app

    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    with socket.socket() as probe:
        if probe.connect_ex((host, port)) == 0:
            print(f"figway: a metadata provider already answers at {base_url}")
            return
    config = uvicorn.Config(
        create_provider_app(latency_ms=0),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
    threading.Thread(target=uvicorn.Server(config).run, name="fake-provider", daemon=True).start()
    print(f"figway: fake metadata provider on {base_url} (set METADATA_BASE_URL for a real one)")
