"""The async metadata client of the twins: the same answers as the blocking client, and
its own promises (bounded retries for idempotent calls, a concurrency limit, timeouts),
against providers served for real on loopback ports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from shared.clients.metadata import AsyncMetadataClient, MetadataClient
from shared.errors import NotFound, Unavailable
from shared.fakes.metadata_provider import build_catalogue
from shared.fakes.serving import serve
from tests.provider import provider_url, refused_url

__all__ = ["provider_url"]  # a fixture, used by name

HORIZON = build_catalogue().by_name("Horizon")
SEARCH = {"results": [{"id": 7, "name": "Seven", "slug": "seven"}]}


def call(
    client_factory: Callable[[], AsyncMetadataClient],
    use: Callable[[AsyncMetadataClient], Awaitable[Any]],
) -> Any:
    """Make the client on a fresh loop, use it, close it: as an app's lifespan would."""

    async def main() -> Any:
        client = client_factory()
        try:
            return await use(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_the_same_answers_as_the_blocking_client(provider_url):
    with MetadataClient(provider_url, 5) as blocking:
        expected = (
            blocking.search_artists("horizon"),
            blocking.artist(HORIZON.id),
            blocking.video(HORIZON.video_ids[0]),
        )

    async def use(client: AsyncMetadataClient) -> Any:
        return (
            await client.search_artists("horizon"),
            await client.artist(HORIZON.id),
            await client.video(HORIZON.video_ids[0]),
        )

    assert call(lambda: AsyncMetadataClient(provider_url, 5), use) == expected
    assert expected[0] and expected[1].videos  # non-trivial answers were compared


class Flaky:
    """A provider that answers `failures` with `status` before it answers properly."""

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures, self.status, self.calls = failures, status, 0
        self.app = Starlette(routes=[Route("/api/v1/search/entities", self.search)])

    async def search(self, _request: Request) -> Response:
        self.calls += 1
        if self.calls <= self.failures:
            return PlainTextResponse("unwell", status_code=self.status)
        return JSONResponse(SEARCH)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_briefly_unwell_provider_is_retried(status):
    flaky = Flaky(failures=2, status=status)
    with serve(flaky.app) as url:
        found = call(
            lambda: AsyncMetadataClient(url, 5, retries=2, backoff_s=0.01),
            lambda c: c.search_artists("x"),
        )
    assert [a.name for a in found] == ["Seven"]
    assert flaky.calls == 3


def test_retries_are_bounded():
    flaky = Flaky(failures=10)
    with serve(flaky.app) as url, pytest.raises(Unavailable):
        call(
            lambda: AsyncMetadataClient(url, 5, retries=2, backoff_s=0.01),
            lambda c: c.search_artists("x"),
        )
    assert flaky.calls == 3  # the first try and two retries, no more


@pytest.mark.parametrize(
    ("status", "error"), [(404, NotFound), (400, Unavailable), (500, Unavailable)]
)
def test_answers_that_would_not_change_are_not_retried(status, error):
    flaky = Flaky(failures=10, status=status)
    with serve(flaky.app) as url, pytest.raises(error):
        call(
            lambda: AsyncMetadataClient(url, 5, retries=2, backoff_s=0.01),
            lambda c: c.search_artists("x"),
        )
    assert flaky.calls == 1


def test_a_refused_connection_is_unavailable():
    with refused_url() as url, pytest.raises(Unavailable):
        call(
            lambda: AsyncMetadataClient(url, 5, retries=1, backoff_s=0.01),
            lambda c: c.search_artists("x"),
        )


def test_malformed_json_is_unavailable_and_not_retried():
    calls = 0

    async def garbage(_request: Request) -> Response:
        nonlocal calls
        calls += 1
        return PlainTextResponse("{not json", media_type="application/json")

    app = Starlette(routes=[Route("/api/v1/search/entities", garbage)])
    with serve(app) as url, pytest.raises(Unavailable):
        call(lambda: AsyncMetadataClient(url, 5, retries=2), lambda c: c.search_artists("x"))
    assert calls == 1


def test_a_slow_provider_costs_one_deadline_for_all_attempts():
    calls = 0
    release = asyncio.Event()

    async def hang(_request: Request) -> Response:
        nonlocal calls
        calls += 1
        await release.wait()  # never set: only the client's deadline ends the wait
        return JSONResponse(SEARCH)

    app = Starlette(routes=[Route("/api/v1/search/entities", hang)])
    with serve(app) as url, pytest.raises(Unavailable):
        started = time.monotonic()
        try:
            call(
                lambda: AsyncMetadataClient(url, 0.5, retries=2, backoff_s=0.01),
                lambda c: c.search_artists("x"),
            )
        finally:
            took = time.monotonic() - started
    # One attempt used the whole deadline: no second one, no 3 x 0.5 s.
    assert calls == 1
    assert 0.5 <= took < 0.5 + 0.8, took  # three attempts took 1.5 s and more


def test_calls_in_flight_never_exceed_the_limit():
    in_flight = peak = 0

    async def slow(_request: Request) -> Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return JSONResponse(SEARCH)

    app = Starlette(routes=[Route("/api/v1/search/entities", slow)])

    async def many(client: AsyncMetadataClient) -> list[Any]:
        return list(await asyncio.gather(*(client.search_artists("x") for _ in range(12))))

    with serve(app) as url:
        answers = call(lambda: AsyncMetadataClient(url, 5, max_concurrency=3), many)
    assert len(answers) == 12
    assert peak == 3  # the limit was reached, and held


def test_the_api_key_is_sent():
    seen: list[str | None] = []

    async def search(request: Request) -> Response:
        seen.append(request.headers.get("imvdb-app-key"))
        return JSONResponse(SEARCH)

    app = Starlette(routes=[Route("/api/v1/search/entities", search)])
    with serve(app) as url:
        call(lambda: AsyncMetadataClient(url, 5, api_key="k3y"), lambda c: c.search_artists("x"))
    assert seen == ["k3y"]
