"""The fake metadata provider, served for real by uvicorn in a thread on a loopback port.

Import the fixtures into a test module (`from tests.provider import provider_url`) and
point `settings.metadata_base_url` at the URL; `serve` runs any other ASGI stub the same way.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from starlette.types import ASGIApp

from shared.fakes.metadata_provider import create_provider_app

STOP_TIMEOUT_S = 10


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run `app` until the block ends; yields its base URL, e.g. http://127.0.0.1:40123."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    # Listening before uvicorn starts: early requests wait in the backlog, no polling needed.
    sock.listen(128)
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="fake-provider", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        sock.close()
        assert not thread.is_alive(), "the fake provider did not stop"


@contextmanager
def refused_url() -> Iterator[str]:
    """A loopback URL where connections are refused: the port is ours, but nobody listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="session")
def provider_url() -> Iterator[str]:
    """The fake provider with no added latency, shared by the whole session."""
    with serve(create_provider_app()) as url:
        yield url


@pytest.fixture
def down_url() -> Iterator[str]:
    with refused_url() as url:
        yield url
