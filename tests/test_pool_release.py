"""A twin waiting on the metadata provider holds no database connection: with a pool of
two connections, many more concurrent searches than that all answer, none of them queued
past the pool's timeout behind requests that only wait on the provider."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from fastapi_app import create_fastapi_app
from shared.config import Settings
from shared.fakes.metadata_provider import create_provider_app
from shared.fakes.serving import serve

LATENCY_MS = 600
CLIENTS = 8  # four times the pool (size 1, overflow 1)

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("mariadb", marks=pytest.mark.mariadb)], indirect=True
)


@pytest.fixture(scope="module")
def slow_provider_url() -> Iterator[str]:
    with serve(create_provider_app(latency_ms=LATENCY_MS)) as url:
        yield url


def test_searches_waiting_on_the_provider_do_not_hold_the_pool(
    flask_app, settings: Settings, bearer, slow_provider_url
):
    auth = bearer("user")
    twins = create_fastapi_app(
        settings.model_copy(
            update={
                "metadata_base_url": slow_provider_url,
                "db_pool_size": 1,
                # Far shorter than the provider's wait: a request queued behind a held
                # connection fails with the 503 of an exhausted pool.
                "db_pool_timeout_s": LATENCY_MS / 1000 / 3,
            }
        )
    )
    with TestClient(twins) as client, ThreadPoolExecutor(CLIENTS) as pool:
        responses = list(
            pool.map(
                lambda _: client.get("/api/metadata/search?q=Horizon", headers=auth),
                range(CLIENTS),
            )
        )
    assert [r.status_code for r in responses] == [200] * CLIENTS, [r.text for r in responses]
