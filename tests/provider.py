"""The fake metadata provider, served for real by uvicorn in a thread on a loopback port.

Import the fixtures into a test module (`from tests.provider import provider_url`) and
point `settings.metadata_base_url` at the URL; `serve` runs any other ASGI stub the same way.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from shared.fakes.metadata_provider import create_provider_app
from shared.fakes.serving import serve


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
