"""The fake metadata provider (served for real, as ASGI and by its lean server) and the
blocking client that talks to it."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from urllib.parse import urlsplit

import httpx
import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from shared.clients.metadata import (
    API_KEY_HEADER,
    MetadataClient,
    parse_artist_detail,
    parse_search,
    parse_video,
)
from shared.errors import NotFound, Unavailable
from shared.fakes.metadata_provider import (
    EMPTY_ARTIST_NAME,
    build_catalogue,
    create_provider_app,
    provider_protocol,
)
from shared.fakes.serving import serve, serve_protocol
from tests.polling import wait_for
from tests.provider import provider_url, refused_url
from tests.servers import base_env, free_port

__all__ = ["provider_url"]  # a fixture, used by name

CATALOGUE = build_catalogue()
HORIZON = CATALOGUE.by_name("Horizon")


# The two ways the provider is served: ASGI under uvicorn (tests, `figway run`) and the
# lean protocol server (`figway fake-provider`, the benchmarks); both answer alike.
SERVERS = ("asgi", "lean")


def served(
    kind: str, latency_ms: float = 0, media_base_url: str | None = None
) -> AbstractContextManager[str]:
    if kind == "asgi":
        return serve(create_provider_app(latency_ms, media_base_url))
    return serve_protocol(provider_protocol(latency_ms, media_base_url))


@pytest.fixture(scope="module", params=SERVERS)
def any_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with served(request.param) as url:
        yield url


def get(url: str, **params: str) -> requests.Response:
    return requests.get(url, params=params, timeout=10)


# --- the catalogue -----------------------------------------------------------------------


def test_catalogue_is_deterministic_and_sized():
    assert build_catalogue() == CATALOGUE
    assert 30 <= len(CATALOGUE.artists) <= 60
    names = [a.name for a in CATALOGUE.artists.values()]
    assert len(set(names)) == len(names)
    for artist in CATALOGUE.artists.values():
        expected = 0 if artist.name == EMPTY_ARTIST_NAME else 2
        assert len(artist.video_ids) >= expected
        titles = [CATALOGUE.videos[v].title for v in artist.video_ids]
        assert len(set(titles)) == len(titles)


def test_a_one_word_name_is_found_after_a_longer_one():
    found = CATALOGUE.search("horizon")
    assert found[-1] is HORIZON and found[0] is not HORIZON


# --- the HTTP API ------------------------------------------------------------------------


def test_search_shape_and_case_insensitive_match(any_url):
    body = get(f"{any_url}/api/v1/search/entities", q="HoRiZoN").json()
    expected = CATALOGUE.search("horizon")
    assert body["total_results"] == len(expected) and body["current_page"] == 1
    assert body["per_page"] == 25 and body["total_pages"] == 1
    assert [r["name"] for r in body["results"]] == [a.name for a in expected]
    first = body["results"][0]
    assert set(first) == {"id", "slug", "name", "url", "image", "artist_video_count"}
    assert first["image"]["l"].startswith(any_url)
    assert first["artist_video_count"] == len(expected[0].video_ids)


def test_search_pages(any_url):
    everyone = [a.name for a in CATALOGUE.search("e")]
    assert len(everyone) > 10
    page2 = get(f"{any_url}/api/v1/search/entities", q="e", per_page="5", page="2").json()
    assert [r["name"] for r in page2["results"]] == everyone[5:10]
    assert page2["total_pages"] == -(-len(everyone) // 5)
    assert get(f"{any_url}/api/v1/search/entities", q="zzzz").json()["results"] == []


@pytest.mark.parametrize(
    "params", [{}, {"q": " "}, {"q": "a", "page": "0"}, {"q": "a", "per_page": "x"}]
)
def test_search_bad_params_are_400_json(any_url, params):
    response = get(f"{any_url}/api/v1/search/entities", **params)
    assert response.status_code == 400 and response.json()["status"] == 400


def test_entity_with_and_without_videos(any_url):
    plain = get(f"{any_url}/api/v1/entity/{HORIZON.id}").json()
    assert plain["name"] == "Horizon" and plain["genres"] == list(HORIZON.genres)
    assert "artist_videos" not in plain
    full = get(f"{any_url}/api/v1/entity/{HORIZON.id}", include="artist_videos").json()
    block = full["artist_videos"]
    assert block["total_videos"] == len(HORIZON.video_ids)
    assert [v["id"] for v in block["videos"]] == list(HORIZON.video_ids)
    assert block["videos"][0]["artists"][0]["name"] == "Horizon"


def test_video_points_at_its_own_origin_by_default(any_url):
    video_id = HORIZON.video_ids[0]
    body = get(f"{any_url}/api/v1/video/{video_id}").json()
    video = CATALOGUE.videos[video_id]
    assert body["song_title"] == video.title and body["year"] == video.year
    assert body["duration_seconds"] == video.duration_seconds
    assert body["sources"] == [
        {
            "source": "direct",
            "is_primary": True,
            "source_data": f"{any_url}/videos/{video_id}.mp4",
        }
    ]


@pytest.mark.parametrize("kind", SERVERS)
def test_media_base_url_moves_the_sources(kind):
    with served(kind, media_base_url="http://127.0.0.1:1/media/") as url:
        body = get(f"{url}/api/v1/video/{HORIZON.video_ids[0]}").json()
    assert body["sources"][0]["source_data"] == (
        f"http://127.0.0.1:1/media/videos/{HORIZON.video_ids[0]}.mp4"
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/entity/1", "/api/v1/video/99", "/api/v1/video/abc", "/nowhere"]
)
def test_unknown_is_404_json(any_url, path):
    response = get(any_url + path)
    assert response.status_code == 404
    assert response.json()["status"] == 404


@pytest.mark.parametrize("kind", SERVERS)
def test_latency_is_honoured(kind):
    with served(kind, latency_ms=200) as url:
        started = time.perf_counter()
        response = get(f"{url}/api/v1/video/{HORIZON.video_ids[0]}")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert elapsed >= 0.2


@pytest.mark.parametrize("kind", SERVERS)
def test_slow_requests_wait_side_by_side(kind):
    """100 requests of 200 ms each, all at once, take about 200 ms, not 20 s."""

    async def burst(url: str) -> tuple[list[int], float]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            started = time.perf_counter()
            responses = await asyncio.gather(
                *(client.get(f"/api/v1/entity/{HORIZON.id}") for _ in range(100))
            )
            return [r.status_code for r in responses], time.perf_counter() - started

    with served(kind, latency_ms=200) as url:
        statuses, elapsed = asyncio.run(burst(url))
    assert statuses == [200] * 100
    assert 0.2 <= elapsed < 5


# --- the client against the fake ---------------------------------------------------------


def test_client_reads_the_three_endpoints(provider_url):
    with MetadataClient(provider_url, timeout=5) as client:
        found = client.search_artists("horizon")
        detail = client.artist(HORIZON.id)
        video = client.video(HORIZON.video_ids[-1])
    assert [a.name for a in found] == [a.name for a in CATALOGUE.search("horizon")]
    assert found[-1].imvdb_id == HORIZON.id and found[-1].slug == "horizon"
    assert found[-1].image_url == f"{provider_url}/images/artists/{HORIZON.id}-l.jpg"
    assert detail.genres == HORIZON.genres
    assert [v.imvdb_id for v in detail.videos] == list(HORIZON.video_ids)
    assert detail.videos[0].source_url is None and detail.videos[0].duration is None
    expected = CATALOGUE.videos[HORIZON.video_ids[-1]]
    assert (video.title, video.year, video.duration) == (
        expected.title,
        expected.year,
        expected.duration_seconds,
    )
    assert video.source_url == f"{provider_url}/videos/{expected.id}.mp4"


def test_client_maps_404_to_not_found(provider_url):
    with MetadataClient(provider_url, timeout=5) as client:
        with pytest.raises(NotFound):
            client.artist(1)
        with pytest.raises(NotFound):
            client.video(1)


def test_client_maps_refused_connection_to_unavailable():
    with (
        refused_url() as url,
        MetadataClient(url, timeout=5) as client,
        pytest.raises(Unavailable) as caught,
    ):
        client.search_artists("x")
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    assert caught.value.status == 503 and caught.value.code == "UNAVAILABLE"


def test_client_maps_timeout_to_unavailable():
    with (
        serve(create_provider_app(latency_ms=500)) as url,
        MetadataClient(url, timeout=0.1) as client,
        pytest.raises(Unavailable) as caught,
    ):
        client.video(HORIZON.video_ids[0])
    assert isinstance(caught.value.__cause__, requests.Timeout)


def stub(response: Response) -> Starlette:
    """A provider that gives the same answer to everything."""

    async def answer(_request: Request) -> Response:
        return response

    return Starlette(routes=[Route("/{path:path}", answer)])


@pytest.mark.parametrize(
    "response",
    [
        JSONResponse({"error": "boom"}, status_code=500),
        JSONResponse({"error": "slow down"}, status_code=429),
        PlainTextResponse("<html>not json</html>"),
        JSONResponse({"id": "seven", "song_title": "x"}),
        JSONResponse({"id": True, "song_title": "x"}),
        JSONResponse([1, 2]),
    ],
)
def test_client_maps_failures_and_garbage_to_unavailable(response):
    with (
        serve(stub(response)) as url,
        MetadataClient(url, timeout=5) as client,
        pytest.raises(Unavailable),
    ):
        client.video(1)


def test_api_key_goes_in_its_header():
    seen: list[str | None] = []

    async def echo(request: Request) -> Response:
        seen.append(request.headers.get(API_KEY_HEADER))
        return JSONResponse({"results": []})

    app = Starlette(routes=[Route("/api/v1/search/entities", echo)])
    with serve(app) as url:
        with MetadataClient(url, timeout=5, api_key="k-123") as client:
            assert client.search_artists("x") == []
        with MetadataClient(url, timeout=5) as client:
            client.search_artists("x")
    assert seen == ["k-123", None]


# --- parsing, without a network ----------------------------------------------------------


def test_parse_video_picks_the_primary_source_and_large_image():
    video = parse_video(
        {
            "id": 7,
            "song_title": " Song ",
            "year": None,
            "image": {"o": "http://i/o.jpg", "l": "http://i/l.jpg"},
            "sources": [
                {"source": "vimeo", "source_data": "123", "is_primary": False},
                {"source": "youtube", "source_data": "abc", "is_primary": True},
            ],
        }
    )
    assert video.title == "Song" and video.year is None and video.duration is None
    assert video.image_url == "http://i/l.jpg"
    assert video.source_url == "https://www.youtube.com/watch?v=abc"


def test_parse_tolerates_missing_optional_parts():
    detail = parse_artist_detail({"id": 3, "name": "A", "image": [], "genres": None})
    assert detail.videos == () and detail.genres == () and detail.image_url is None
    assert parse_search({"total_results": 0}) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"id": 1},
        {"id": 1, "song_title": ""},
        {"id": 0, "song_title": "x"},
        {"id": 2**63, "song_title": "x"},
        {"id": 1, "song_title": "x", "year": "1999"},
        {"id": 1, "song_title": "x", "duration_seconds": False},
        "video",
    ],
)
def test_parse_rejects_the_wrong_shape(payload):
    with pytest.raises(ValueError):
        parse_video(payload)


def test_video_sources_download_as_real_mp4(any_url):
    video = httpx.get(f"{any_url}/api/v1/video/500001").json()
    source = video["sources"][0]["source_data"]
    response = httpx.get(source)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.content[4:8] == b"ftyp"  # an MP4's first box
    ranged = httpx.get(source, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100


def test_media_head_ranges_and_methods(any_url):
    source = f"{any_url}/videos/{HORIZON.video_ids[0]}.mp4"
    whole = httpx.get(source)
    head = httpx.head(source)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(whole.content))
    tail = httpx.get(source, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    size = len(whole.content)
    assert tail.headers["content-range"] == f"bytes {size - 10}-{size - 1}/{size}"
    outside = httpx.get(source, headers={"Range": f"bytes={size}-"})
    assert outside.status_code == 416
    posted = httpx.post(f"{any_url}/api/v1/video/{HORIZON.video_ids[0]}")
    assert posted.status_code == 405 and posted.json()["status"] == 405


def test_lean_server_answers_pipelined_requests_in_order():
    """Two requests on one connection before any answer: the answers come in order, each
    `latency_ms` after its request, and `Connection: close` ends the connection."""
    with served("lean", latency_ms=50) as url:
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(
                b"GET /api/v1/entity/" + str(HORIZON.id).encode() + b" HTTP/1.1\r\n"
                b"Host: x\r\n\r\n"
                b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
    first, _, rest = received.partition(b"\r\n")
    assert first == b"HTTP/1.1 200 OK"
    assert b'"name":"Horizon"' in rest
    assert rest.index(b'"name":"Horizon"') < rest.index(b"HTTP/1.1 404 Not Found")
    assert rest.endswith(b'{"error":"Not Found","status":404}')


def test_figway_fake_provider_serves_and_stops_on_sigterm(tmp_path):
    """The lean server as `figway fake-provider` runs it (compose, the benchmarks): it
    answers, and SIGTERM ends it cleanly (a container's first process has no default)."""
    port = free_port()
    command = [sys.executable, "-m", "gateway.cli", "fake-provider", "--port", str(port)]
    proc = subprocess.Popen(command, env=base_env(tmp_path))
    try:
        url = f"http://127.0.0.1:{port}/api/v1/entity/{HORIZON.id}"

        def answered() -> httpx.Response | None:
            try:
                return httpx.get(url, timeout=1)
            except httpx.TransportError:
                return None

        assert wait_for(answered, timeout=30).json()["name"] == "Horizon"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
