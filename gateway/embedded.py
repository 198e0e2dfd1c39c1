"""`make run`: everything on embedded defaults in one process, ready for a first look."""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlsplit

import uvicorn

from gateway.protocol import protocol_class
from gateway.state.migrate import upgrade as upgrade_state
from shared.config import Settings
from shared.db.engine import create_sync_engine, sync_sessionmaker
from shared.db.migrate import upgrade
from shared.demo import seed_demo

# The fake provider's port under `figway run` when METADATA_BASE_URL is not set: the app's
# port plus this (8000 -> 8090, the documented default), so two runs on two ports do not
# share one provider.
PROVIDER_PORT_OFFSET = 90
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def run_embedded(settings: Settings, *, host: str, port: int) -> int:
    settings = run_settings(settings, port)
    # The server's factory (gateway.asgi:factory) reads its settings from the environment.
    os.environ["METADATA_BASE_URL"] = settings.metadata_base_url
    os.environ["FIGWAY_DOWNLOAD_ALLOW_HOSTS"] = ",".join(settings.download_allow_hosts)
    print(f"figway: database {settings.database_url}")
    upgrade_state(settings.state_url)  # as `figway db upgrade`: figway's tables, the demo's
    upgrade(settings.database_url, media_dir=settings.media_dir)
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


def run_settings(settings: Settings, port: int) -> Settings:
    """What `figway run` serves with: the provider on the port derived from the app's unless
    METADATA_BASE_URL is set, and a provider on this machine allowed to downloads (it serves
    the demo media; FIGWAY_DOWNLOAD_ALLOW_HOSTS refuses loopback addresses otherwise)."""
    base_url = settings.metadata_base_url
    if "metadata_base_url" not in settings.model_fields_set:
        provider_port = port + PROVIDER_PORT_OFFSET
        if provider_port > 65535:
            provider_port = port - PROVIDER_PORT_OFFSET
        base_url = f"http://127.0.0.1:{provider_port}"
    allowed = list(settings.download_allow_hosts)
    parts = urlsplit(base_url)
    if parts.hostname in _LOCAL_HOSTS:
        shown = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        allowed.append(f"{shown}:{parts.port or 80}")
    return settings.model_copy(
        update={"metadata_base_url": base_url, "download_allow_hosts": allowed}
    )


def _start_fake_provider(base_url: str) -> None:
    """A provider on this machine that does not answer yet: serve the local fake there.

    The default METADATA_BASE_URL is such an address, so `make run` works offline; a real
    provider (any other host) is left alone.
    """
    from shared.fakes.metadata_provider import create_provider_app

    parts = urlsplit(base_url)
    host, port = parts.hostname or "", parts.port or 80
    if host not in _LOCAL_HOSTS:
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
