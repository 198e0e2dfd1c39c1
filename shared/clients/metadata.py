"""The metadata provider (IMVDb's v1 API): typed results, their parsing, and a blocking client.

Parsing and status checks are pure functions, apart from the transport, so the blocking
client (requests, for the legacy app) and the async one (aiohttp, for the twins) share
them and differ only in how they wait. Whatever goes wrong below
(refused connection, timeout, 5xx, a body we cannot read) is mapped once, here, to
`Unavailable`; a 404 from the provider becomes `NotFound`.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import requests
import urllib3
from requests.adapters import HTTPAdapter

from shared.db.base import MAX_ID
from shared.errors import NotFound, Unavailable

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from shared.tracing.spans import CallSpan

T = TypeVar("T")

UNAVAILABLE = "Metadata provider unavailable"
API_KEY_HEADER = "IMVDB-APP-KEY"
# Image sizes, most useful first: "l" is the one the UI shows.
_IMAGE_PREFERENCE = ("l", "o", "b", "t", "s")
# Sources that name a video on a site rather than give its address.
_SOURCE_URLS = {
    "youtube": "https://www.youtube.com/watch?v={}",
    "vimeo": "https://vimeo.com/{}",
}


@dataclass(frozen=True)
class ProviderArtist:
    imvdb_id: int
    name: str
    slug: str | None
    image_url: str | None
    video_count: int


@dataclass(frozen=True)
class ProviderVideo:
    """A video as the provider describes it; summaries may lack duration and source."""

    imvdb_id: int
    title: str
    year: int | None
    duration: int | None
    image_url: str | None
    source_url: str | None


@dataclass(frozen=True)
class ProviderArtistDetail:
    imvdb_id: int
    name: str
    slug: str | None
    image_url: str | None
    genres: tuple[str, ...]
    videos: tuple[ProviderVideo, ...]


class MalformedResponse(ValueError):
    """The provider answered, but not with the shape its API promises."""


# --- parsing: provider JSON -> the dataclasses above ------------------------------------


def parse_search(payload: Any) -> list[ProviderArtist]:
    return [parse_artist(item) for item in _list(_object(payload).get("results", []))]


def parse_artist(payload: Any) -> ProviderArtist:
    data = _object(payload)
    return ProviderArtist(
        imvdb_id=_id(data),
        name=_text(data, "name"),
        slug=_optional(data, "slug", str),
        image_url=image_url(data.get("image")),
        video_count=_optional(data, "artist_video_count", int) or 0,
    )


def parse_artist_detail(payload: Any) -> ProviderArtistDetail:
    data = _object(payload)
    block = _object(data.get("artist_videos") or {})
    return ProviderArtistDetail(
        imvdb_id=_id(data),
        name=_text(data, "name"),
        slug=_optional(data, "slug", str),
        image_url=image_url(data.get("image")),
        genres=tuple(g for g in _list(data.get("genres") or []) if isinstance(g, str) and g),
        videos=tuple(parse_video(v) for v in _list(block.get("videos", []))),
    )


def parse_video(payload: Any) -> ProviderVideo:
    data = _object(payload)
    return ProviderVideo(
        imvdb_id=_id(data),
        title=_text(data, "song_title"),
        year=_optional(data, "year", int),
        duration=_optional(data, "duration_seconds", int),
        image_url=image_url(data.get("image")),
        source_url=source_url(data.get("sources")),
    )


def image_url(image: Any) -> str | None:
    """The preferred size of an IMVDb image object; anything else means no image."""
    if not isinstance(image, Mapping):
        return None
    for size in _IMAGE_PREFERENCE:
        url = image.get(size)
        if isinstance(url, str) and url:
            return url
    return None


def source_url(sources: Any) -> str | None:
    """The address of the primary source (else the first), or None without one."""
    if not isinstance(sources, list):
        return None
    usable = [
        s for s in sources if isinstance(s, Mapping) and isinstance(s.get("source_data"), str)
    ]
    if not usable:
        return None
    chosen = next((s for s in usable if s.get("is_primary") is True), usable[0])
    data: str = chosen["source_data"]
    template = _SOURCE_URLS.get(str(chosen.get("source")))
    return template.format(data) if template and "://" not in data else data


def _object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedResponse(f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedResponse(f"expected a list, got {type(value).__name__}")
    return value


def _id(data: Mapping[str, Any]) -> int:
    value = data.get("id")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise MalformedResponse(f"bad id {value!r}")
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedResponse(f"{key} must be a non-empty string")
    return value.strip()


def _optional(data: Mapping[str, Any], key: str, kind: type[T]) -> T | None:
    value = data.get(key)
    if value is None:
        return None
    # JSON true is not the number 1.
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise MalformedResponse(f"{key} must be {kind.__name__}")


def check_status(status: int, missing: str) -> None:
    """404 is the provider's answer; any other failure means it cannot answer now."""
    if status == 404:
        raise NotFound(missing)
    if not 200 <= status < 300:
        raise Unavailable(UNAVAILABLE)


# --- transport: the blocking client -------------------------------------------------------


class MetadataClient:
    """Blocking client, one per app: its connection pool is shared by the request threads.

    `timeout` bounds a call as a whole (connecting and waiting for the answer together), as
    it does for the async client; requests alone would allow it for each of the two."""

    def __init__(
        self,
        base_url: str,
        timeout: float,
        api_key: str | None = None,
        *,
        pool_size: int = 64,
        tracer: Tracer | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._tracer = tracer  # a span per call when tracing is on (shared.tracing)
        self._session = requests.Session()
        # More than requests' 10 pooled connections: the legacy server runs many threads.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["Accept"] = "application/json"
        if api_key:
            self._session.headers[API_KEY_HEADER] = api_key

    def search_artists(self, query: str) -> list[ProviderArtist]:
        return self._get("/api/v1/search/entities", {"q": query}, "No results", parse_search)

    def artist(self, imvdb_id: int) -> ProviderArtistDetail:
        return self._get(
            f"/api/v1/entity/{imvdb_id}",
            {"include": "artist_videos"},
            "Artist not found at the metadata provider",
            parse_artist_detail,
        )

    def video(self, imvdb_id: int) -> ProviderVideo:
        return self._get(
            f"/api/v1/video/{imvdb_id}", {}, "Video not found at the metadata provider", parse_video
        )

    def _get(self, path: str, params: dict[str, str], missing: str, parse: Callable[[Any], T]) -> T:
        url = self.base_url + path
        span = None if self._tracer is None else _call_span(self._tracer, url)
        try:
            response = self._session.get(
                url,
                params=params,
                headers=None if span is None else span.headers,
                # requests hands a urllib3 Timeout to urllib3 as it is (adapters.send); its
                # type hints know only numbers.
                timeout=urllib3.Timeout(total=self.timeout),  # type: ignore[arg-type]
            )
        except requests.RequestException as exc:
            if span is not None:
                span.failed(exc)
            raise Unavailable(UNAVAILABLE) from exc
        if span is not None:
            span.done(response.status_code)
        with response:
            check_status(response.status_code, missing)
            try:
                return parse(response.json())
            except ValueError as exc:  # undecodable JSON and MalformedResponse alike
                raise Unavailable(UNAVAILABLE) from exc

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> MetadataClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- transport: the async client ------------------------------------------------------

# Statuses worth a second try: the provider (or a proxy before it) is briefly unwell.
RETRY_STATUSES = frozenset({502, 503, 504})


class AsyncMetadataClient:
    """Async client, one per app, used from the loop that serves it.

    aiohttp, chosen by measurement (bench/metadata.py, "Metadata client stacks"): at 200
    calls in flight a plain httpx.AsyncClient held ~50 calls/s, httpx over an aiohttp
    transport ~1,600 at 0.3 ms of CPU per call, aiohttp itself ~1,850 at 0.08 ms; the
    search twin is CPU-bound at 500 clients, so the cheapest stack wins. Every call is a
    GET, so every call is idempotent: a refused connection, a timeout or a 502/503/504 is
    retried `retries` times with exponential backoff and jitter. `max_concurrency` bounds
    the calls in flight to the provider; callers past it wait their turn.

    `timeout` is one deadline for the whole call: the wait for a slot, every attempt and
    the pauses between them. A timed-out attempt has used it up, so the caller gets its 503
    after `timeout`, as from the legacy side, not after three of them (32 s at 10 s).
    """

    def __init__(
        self,
        base_url: str,
        timeout: float,
        api_key: str | None = None,
        *,
        max_concurrency: int = 256,
        retries: int = 2,
        backoff_s: float = 0.05,
        tracer: Tracer | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._tracer = tracer  # a span per attempt when tracing is on (shared.tracing)
        self.retries = retries
        self.backoff_s = backoff_s
        self._headers = {"Accept": "application/json"}
        if api_key:
            self._headers[API_KEY_HEADER] = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_concurrency = max_concurrency
        self._slots = asyncio.Semaphore(max_concurrency)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the loop it was made on, and
        # the app is built before its loop runs.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._max_concurrency),
                raise_for_status=False,
            )
        return self._session

    async def search_artists(self, query: str) -> list[ProviderArtist]:
        return await self._get("/api/v1/search/entities", {"q": query}, "No results", parse_search)

    async def artist(self, imvdb_id: int) -> ProviderArtistDetail:
        return await self._get(
            f"/api/v1/entity/{imvdb_id}",
            {"include": "artist_videos"},
            "Artist not found at the metadata provider",
            parse_artist_detail,
        )

    async def video(self, imvdb_id: int) -> ProviderVideo:
        return await self._get(
            f"/api/v1/video/{imvdb_id}", {}, "Video not found at the metadata provider", parse_video
        )

    async def _get(
        self, path: str, params: dict[str, str], missing: str, parse: Callable[[Any], T]
    ) -> T:
        url = self.base_url + path
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            span = None if self._tracer is None else _call_span(self._tracer, url)
            try:
                async with (
                    asyncio.timeout_at(deadline),
                    self._slots,
                    self._http().get(
                        url, params=params, headers=None if span is None else span.headers
                    ) as response,
                ):
                    status = response.status
                    body = await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:  # refused, reset, timed out
                if span is not None:
                    span.failed(exc)
                if last or loop.time() >= deadline:
                    raise Unavailable(UNAVAILABLE) from exc
            else:
                if span is not None:
                    span.done(status)
                if status not in RETRY_STATUSES or last:
                    check_status(status, missing)
                    try:
                        return parse(json.loads(body))
                    except ValueError as exc:  # undecodable JSON and MalformedResponse alike
                        raise Unavailable(UNAVAILABLE) from exc
            pause = self.backoff_s * 2**attempt * (0.5 + random.random())
            if loop.time() + pause >= deadline:
                raise Unavailable(UNAVAILABLE)  # no time left for another attempt
            await asyncio.sleep(pause)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _call_span(tracer: Tracer, url: str) -> CallSpan:
    """The span of one GET to the provider; its module is imported only with tracing on."""
    from shared.tracing.spans import CallSpan

    return CallSpan(tracer, "GET", url)
