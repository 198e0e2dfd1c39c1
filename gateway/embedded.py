"""`make run`: everything on embedded defaults in one process, ready for a first look."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import uvicorn

from gateway.protocol import protocol_class
from shared.config import Settings
from shared.db.engine import create_sync_engine, sync_sessionmaker
from shared.db.migrate import upgrade
from shared.demo import seed_demo


def run_embedded(settings: Settings, *, host: str, port: int) -> int:
    print(f"figway: database {settings.database_url}")
    upgrade(settings.database_url)
    engine = create_sync_engine(settings)
    try:
        seed_demo(settings, sync_sessionmaker(engine), say=lambda line: print(f"figway: {line}"))
    finally:
        engine.dispose()
    _start_fake_provider(settings.metadata_base_url)
    print(f"figway: serving on http://{host}:{port}/  (log in at /login)")
    uvicorn.run(
        "gateway.asgi:factory",
        factory=True,
        host=host,
        port=port,
        log_level="info",
        http=protocol_class(settings),
    )
    return 0


def _start_fake_provider(base_url: str) -> None:
    """A provider on this machine that does not answer yet: serve the local fake there.

    The default METADATA_BASE_URL is such an address, so `make run` works offline; a real
    provider (any other host) is left alone.
    """
    from shared.fakes.metadata_provider import create_provider_app

    parts = urlsplit(base_url)
    host, port = parts.hostname or "", parts.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        return
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
