"""A slow metadata provider: each call to it has one deadline (FIGWAY_METADATA_TIMEOUT)
for all its attempts, and the caller gets the legacy 503 at that deadline, on both sides.
Through the gateway the twin answers; before, it tried three times (32 s at 10 s)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from shared.config import Settings
from shared.fakes.metadata_provider import create_provider_app
from shared.fakes.serving import serve
from tests.conftest import assert_error

DEADLINE_S = 1.0
# Scheduling slack on a busy machine; three attempts took 3.2 s.
MARGIN_S = 1.5


@pytest.fixture(scope="module")
def slow_provider_url() -> Iterator[str]:
    """The fake provider, answering every call after far longer than the deadline."""
    with serve(create_provider_app(latency_ms=DEADLINE_S * 10 * 1000)) as url:
        yield url


@pytest.fixture
def settings(settings: Settings, slow_provider_url: str) -> Settings:
    return settings.model_copy(
        update={"metadata_base_url": slow_provider_url, "metadata_timeout_s": DEADLINE_S}
    )


def test_a_slow_provider_is_a_503_at_the_deadline(client, bearer):
    started = time.monotonic()
    response = client.get("/api/metadata/search?q=Horizon", headers=bearer("user"))
    took = time.monotonic() - started
    assert_error(response, 503, "UNAVAILABLE")
    assert DEADLINE_S <= took < DEADLINE_S + MARGIN_S, took
