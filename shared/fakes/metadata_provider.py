"""A local IMVDb-like metadata provider: a deterministic catalogue, served two ways.

Tests, demos and benchmarks point `metadata_base_url` at it. Every request first waits
`latency_ms` on the event loop (not a thread), so one process can hold hundreds of slow
requests open at once, like a distant provider seen by many clients.

`create_provider_app` is a pure ASGI app (for uvicorn in a thread: tests, `figway run`);
`run` (`figway fake-provider`, what the benchmarks start) serves the same answers with a
lean httptools protocol on uvloop. The provider is not the system under test: each answer
is encoded once and kept, and the lean server adds a timer per request, so that its CPU
per call stays a small part of what the benchmarks measure.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import tempfile
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

import httptools
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.media.ffmpeg import find_ffmpeg, make_sample_video

SEED = 1979
GENERATED_ARTISTS = 34
FIRST_ARTIST_ID = 2001
FIRST_VIDEO_ID = 500001
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100

# fmt: off
_FIRST_WORDS = ("Neon", "Velvet", "Paper", "Crystal", "Midnight", "Silver", "Golden",
                "Electric", "Hollow", "Static", "Lunar", "Scarlet", "Glass", "Wild")
_SECOND_WORDS = ("Harbor", "Echoes", "Tigers", "Parade", "Machines", "Satellites", "Rivers",
                 "Ghosts", "Lanterns", "Wolves", "Horizon", "Season")
_TITLE_WORDS = ("Love", "Night", "Fire", "Summer", "Heart", "City", "Dream", "Light", "Rain",
                "Gold", "Run", "Tonight", "Forever", "Stars", "Dance", "Ocean", "Shadow", "Home")
# fmt: on
_GENRES = ("pop", "rock", "electronic", "hip hop", "indie", "r&b", "metal", "folk", "jazz")
_IMAGE_SIZES = ("o", "l", "b", "t", "s")
# An artist the catalogue lists but who has no videos yet (discovering adds nothing).
EMPTY_ARTIST_NAME = "The Unreleased"
# Every video's media is one sample clip of this length (_SampleMedia).
SAMPLE_SECONDS = 2

# Real names a new user would search for, ahead of the generated ones. `figway seed-demo`
# (shared/demo.py) fills the demo library from these entries, so the library and the
# provider agree: search, refresh-metadata and discover find what the seed put there.
# (name, genres, [(title, year)]); ids: 1001 on for artists, artist id * 100 + n for videos.
DEMO_ARTISTS: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, int], ...]], ...] = (
    (
        "Daft Punk",
        ("electronic",),
        (("Around the World", 1997), ("Da Funk", 1995), ("One More Time", 2000)),
    ),
    ("Björk", ("art pop",), (("Army of Me", 1995), ("Hyperballad", 1996))),
    ("OK Go", ("rock",), (("Here It Goes Again", 2006), ("This Too Shall Pass", 2010))),
)
FIRST_DEMO_ARTIST_ID = 1001


@dataclass(frozen=True)
class CatalogueVideo:
    id: int
    artist_id: int
    title: str
    slug: str
    year: int
    duration_seconds: int


@dataclass(frozen=True)
class CatalogueArtist:
    id: int
    name: str
    slug: str
    genres: tuple[str, ...]
    video_ids: tuple[int, ...]


@dataclass(frozen=True)
class Catalogue:
    artists: Mapping[int, CatalogueArtist]
    videos: Mapping[int, CatalogueVideo]
    demo_artist_ids: tuple[int, ...]

    def search(self, query: str) -> list[CatalogueArtist]:
        """Case-insensitive substring match on the name, in id order."""
        needle = query.casefold()
        return [a for a in self.artists.values() if needle in a.name.casefold()]

    def by_name(self, name: str) -> CatalogueArtist:
        return next(a for a in self.artists.values() if a.name == name)

    def demo_artists(self) -> list[CatalogueArtist]:
        """The artists `figway seed-demo` puts in the library, in order."""
        return [self.artists[i] for i in self.demo_artist_ids]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")


def build_catalogue(seed: int = SEED) -> Catalogue:
    """The same artists and videos for the same seed, on every machine."""
    artists, videos = _demo_entries()
    demo_ids = tuple(artists)
    rng = random.Random(seed)
    pairs = [f"{a} {b}" for a in _FIRST_WORDS for b in _SECOND_WORDS]
    names = rng.sample(pairs, GENERATED_ARTISTS)
    # A one-word name that is part of an earlier (lower id) name: a search for it finds
    # the longer name first, so taking the exact match matters.
    names.append(names[0].split()[1])
    next_video_id = FIRST_VIDEO_ID
    for offset, name in enumerate([*names, EMPTY_ARTIST_NAME]):
        artist_id = FIRST_ARTIST_ID + offset
        count = 0 if name == EMPTY_ARTIST_NAME else rng.randint(2, 7)
        video_ids = []
        for title in _titles(rng, count):
            video_id, next_video_id = next_video_id, next_video_id + 1
            videos[video_id] = CatalogueVideo(
                id=video_id,
                artist_id=artist_id,
                title=title,
                slug=slugify(title),
                year=rng.randint(1981, 2023),
                duration_seconds=rng.randint(150, 420),
            )
            video_ids.append(video_id)
        genres = tuple(rng.sample(_GENRES, rng.randint(1, 2)))
        artists[artist_id] = CatalogueArtist(
            artist_id, name, slugify(name), genres, tuple(video_ids)
        )
    return Catalogue(artists, videos, demo_ids)


def _demo_entries() -> tuple[dict[int, CatalogueArtist], dict[int, CatalogueVideo]]:
    artists: dict[int, CatalogueArtist] = {}
    videos: dict[int, CatalogueVideo] = {}
    for offset, (name, genres, titles) in enumerate(DEMO_ARTISTS):
        artist_id = FIRST_DEMO_ARTIST_ID + offset
        video_ids = tuple(artist_id * 100 + index for index in range(len(titles)))
        for video_id, (title, year) in zip(video_ids, titles, strict=True):
            # As long as the clip the media route serves, so a thumbnail's frame exists.
            videos[video_id] = CatalogueVideo(
                video_id, artist_id, title, slugify(title), year, SAMPLE_SECONDS
            )
        artists[artist_id] = CatalogueArtist(artist_id, name, slugify(name), genres, video_ids)
    return artists, videos


def _titles(rng: random.Random, count: int) -> list[str]:
    titles: list[str] = []
    while len(titles) < count:
        title = " ".join(rng.sample(_TITLE_WORDS, rng.randint(1, 3)))
        if title not in titles:
            titles.append(title)
    return titles


# --- the answers, computed once per distinct request ------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


_JSON = ((b"content-type", b"application/json"),)
_SEARCH_PATH = "/api/v1/search/entities"
_ENTITY_PATH = re.compile(r"/api/v1/entity/([0-9]+)")
_VIDEO_PATH = re.compile(r"/api/v1/video/([0-9]+)")
_MEDIA_PATH = re.compile(r"/videos/([0-9]+)\.mp4")
# Distinct (method, path, query, host) answers kept: the benchmark asks one search over and
# over, tests a few dozen; a flood of distinct queries only refills the cache.
_CACHE_SIZE = 4096


class _Provider:
    """The endpoints, answering in the shape of IMVDb's v1 API, as bytes.

    The provider is not what tests and benchmarks measure: every JSON answer is encoded
    once per distinct request and kept, so a call costs a dictionary lookup.
    """

    def __init__(self, catalogue: Catalogue, media_base_url: str | None) -> None:
        self.catalogue = catalogue
        self.media_base_url = media_base_url.rstrip("/") if media_base_url else None
        self.media = _SampleMedia()
        self._cache: dict[tuple[str, str, str, str], Answer] = {}

    @staticmethod
    def is_media(path: str) -> bool:
        return _MEDIA_PATH.fullmatch(path) is not None

    def answer(self, method: str, path: str, query: str, host: str, range_: str | None) -> Answer:
        """What a request gets (the body even for HEAD: the server leaves it out). A media
        path needs `await self.media.ready()` first."""
        media = _MEDIA_PATH.fullmatch(path)
        if media is not None:
            if method not in ("GET", "HEAD"):
                return _error(405, "Method Not Allowed")
            return self.media.answer(int(media[1]), range_)
        key = (method, path, query, host)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            found = self._cache[key] = self._compute(method, path, query, host)
        return found

    def _compute(self, method: str, path: str, query: str, host: str) -> Answer:
        entity = _ENTITY_PATH.fullmatch(path)
        video = _VIDEO_PATH.fullmatch(path)
        if entity is None and video is None and path != _SEARCH_PATH:
            return _error(404, "Not Found")
        if method not in ("GET", "HEAD"):
            return _error(405, "Method Not Allowed")
        origin = f"http://{host}"
        params = dict(parse_qsl(query, keep_blank_values=True))  # the last value wins
        if entity is not None:
            return self.entity(int(entity[1]), params, origin)
        if video is not None:
            return self.video(int(video[1]), origin)
        return self.search(params, origin)

    def search(self, params: Mapping[str, str], origin: str) -> Answer:
        query = params.get("q", "").strip()
        if not query:
            return _error(400, "q is required")
        page = _positive(params, "page", 1, None)
        per_page = _positive(params, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
        if page is None or per_page is None:
            return _error(400, "page and per_page must be positive integers")
        found = self.catalogue.search(query)
        shown = found[(page - 1) * per_page : page * per_page]
        return _json(
            {
                "total_results": len(found),
                "current_page": page,
                "per_page": per_page,
                "total_pages": -(-len(found) // per_page),
                "results": [self._artist_summary(a, origin) for a in shown],
            }
        )

    def entity(self, entity_id: int, params: Mapping[str, str], origin: str) -> Answer:
        artist = self.catalogue.artists.get(entity_id)
        if artist is None:
            return _error(404, "Entity not found")
        body = self._artist_summary(artist, origin)
        body["genres"] = list(artist.genres)
        if "artist_videos" in params.get("include", "").split(","):
            body["artist_videos"] = {
                "total_videos": len(artist.video_ids),
                "videos": [
                    self._video_summary(self.catalogue.videos[v], origin) for v in artist.video_ids
                ],
            }
        return _json(body)

    def video(self, video_id: int, origin: str) -> Answer:
        video = self.catalogue.videos.get(video_id)
        if video is None:
            return _error(404, "Video not found")
        media = self.media_base_url or origin
        body = self._video_summary(video, origin)
        body["duration_seconds"] = video.duration_seconds
        body["sources"] = [
            {
                "source": "direct",
                "source_data": f"{media}/videos/{video.id}.mp4",
                "is_primary": True,
            }
        ]
        return _json(body)

    def _artist_summary(self, artist: CatalogueArtist, origin: str) -> dict[str, Any]:
        return {
            "id": artist.id,
            "slug": artist.slug,
            "name": artist.name,
            "url": f"{origin}/n/{artist.slug}",
            "image": _image(origin, "artists", artist.id),
            "artist_video_count": len(artist.video_ids),
        }

    def _video_summary(self, video: CatalogueVideo, origin: str) -> dict[str, Any]:
        artist = self.catalogue.artists[video.artist_id]
        return {
            "id": video.id,
            "production_status": "r",
            "song_title": video.title,
            "song_slug": video.slug,
            "url": f"{origin}/video/{artist.slug}/{video.slug}",
            "year": video.year,
            "image": _image(origin, "videos", video.id),
            "artists": [
                {"name": artist.name, "slug": artist.slug, "url": f"{origin}/n/{artist.slug}"}
            ],
        }


def _image(origin: str, kind: str, item_id: int) -> dict[str, str]:
    return {size: f"{origin}/images/{kind}/{item_id}-{size}.jpg" for size in _IMAGE_SIZES}


def _positive(params: Mapping[str, str], name: str, default: int, limit: int | None) -> int | None:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        return None
    return min(int(raw), limit) if limit is not None else int(raw)


def _json(content: object, status: int = 200) -> Answer:
    # As Starlette's JSONResponse encodes, so the bytes are what they always were.
    body = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Answer(status, _JSON, body.encode())


def _error(status: int, message: str) -> Answer:
    # Unknown paths and methods answer JSON too, like the rest of the API.
    return _json({"error": message, "status": status}, status)


class _SampleMedia:
    """What the video sources point at: one small real MP4 for every id, made on first use,
    so yt-dlp has something to download from the fake as it would from a real source.
    Held in memory once made (tens of kilobytes); single byte ranges are honoured."""

    def __init__(self) -> None:
        # Kept between runs: the same two seconds of test pattern every time.
        self._path = Path(tempfile.gettempdir()) / "figway-fake-media" / "sample.mp4"
        self._lock = asyncio.Lock()
        self._data: bytes | None = None

    async def ready(self) -> None:
        if self._data is not None:
            return
        async with self._lock:
            if not self._path.exists():
                # ffmpeg takes a second or so: off the event loop.
                await asyncio.to_thread(self._make)
            self._data = self._path.read_bytes()

    def answer(self, video_id: int, range_: str | None) -> Answer:
        data = self._data
        assert data is not None, "await ready() first"
        headers = (
            (b"content-type", b"video/mp4"),
            (b"accept-ranges", b"bytes"),
            (b"content-disposition", f'attachment; filename="{video_id}.mp4"'.encode()),
        )
        if range_ is None:
            return Answer(200, headers, data)
        span = _byte_range(range_, len(data))
        if span is None:
            return Answer(416, ((b"content-range", f"bytes */{len(data)}".encode()),), b"")
        first, last = span
        shown = (b"content-range", f"bytes {first}-{last}/{len(data)}".encode())
        return Answer(206, (*headers, shown), data[first : last + 1])

    def _make(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        partial = self._path.with_name(f".{os.getpid()}.sample.mp4")
        make_sample_video(find_ffmpeg(), partial, SAMPLE_SECONDS)
        os.replace(partial, self._path)  # other processes see all of it or nothing


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """`bytes=a-b`, `bytes=a-` or `bytes=-n` as (first, last), within `size`; None when
    the range is malformed or outside the file (416)."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if match is None or match[1] == match[2] == "":
        return None
    if match[1] == "":
        first, last = max(0, size - int(match[2])), size - 1
    else:
        first = int(match[1])
        last = min(int(match[2]), size - 1) if match[2] else size - 1
    return (first, last) if first <= last < size else None


# --- served as ASGI (tests, `figway run`, the parity runner) -------------------------------


class _ProviderApp:
    """A pure ASGI app: every HTTP request waits `latency_s` on the event loop (not a
    thread), then gets its answer."""

    def __init__(self, provider: _Provider, latency_s: float) -> None:
        self.provider = provider
        self.latency_s = latency_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1") or _server(scope)
        range_ = headers.get(b"range")
        if self.provider.is_media(scope["path"]):
            await self.provider.media.ready()
        answer = self.provider.answer(
            scope["method"],
            scope["path"],
            scope["query_string"].decode("latin-1"),
            host,
            range_.decode("latin-1") if range_ is not None else None,
        )
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    *answer.headers,
                    (b"content-length", str(len(answer.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})


def _server(scope: Scope) -> str:
    host, port = scope.get("server") or ("127.0.0.1", 80)
    return f"{host}:{port}"


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_provider_app(latency_ms: float = 0, media_base_url: str | None = None) -> ASGIApp:
    return _ProviderApp(_Provider(build_catalogue(), media_base_url), latency_ms / 1000)


# --- served by a lean HTTP/1.1 server (`figway fake-provider`, the benchmarks) -------------


class _Connection(asyncio.Protocol):
    """One client connection, parsed by httptools; each answer is written `latency_s` after
    its request arrived, by a timer (no task, no coroutine), and in request order."""

    def __init__(self, provider: _Provider, latency_s: float) -> None:
        self.provider = provider
        self.latency_s = latency_s
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.url = b""
        self.host = ""
        self.range: str | None = None
        # Answers not yet written, oldest first: [bytes or None until ready, keep alive].
        self.pending: deque[list[Any]] = deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(_raw(_error(400, "Bad Request"), head=False, close=True))
                self.transport.close()

    # httptools' callbacks
    def on_message_begin(self) -> None:
        self.url, self.host, self.range = b"", "", None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"host":
            self.host = value.decode("latin-1")
        elif lowered == b"range":
            self.range = value.decode("latin-1")

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("latin-1")
        parsed = httptools.parse_url(self.url)
        path = unquote(parsed.path.decode("latin-1"))
        query = (parsed.query or b"").decode("latin-1")
        host = self.host or _local(self.transport)
        slot = [None, self.parser.should_keep_alive()]
        self.pending.append(slot)
        args = (slot, method, path, query, host, self.range)
        if self.provider.is_media(path):
            self.loop.create_task(self._media(*args))
        else:
            self.loop.call_later(self.latency_s, self._answer, *args)

    async def _media(self, slot: list[Any], *args: Any) -> None:
        await asyncio.sleep(self.latency_s)
        await self.provider.media.ready()
        self._answer(slot, *args)

    def _answer(
        self, slot: list[Any], method: str, path: str, query: str, host: str, range_: str | None
    ) -> None:
        answer = self.provider.answer(method, path, query, host, range_)
        slot[0] = _raw(answer, head=method == "HEAD", close=not slot[1])
        while self.pending and self.pending[0][0] is not None:
            data, keep_alive = self.pending.popleft()
            if self.transport is None:
                return
            self.transport.write(data)
            if not keep_alive:
                self.transport.close()
                return


def _local(transport: asyncio.Transport | None) -> str:
    host, port = transport.get_extra_info("sockname")[:2] if transport else ("127.0.0.1", 80)
    return f"{host}:{port}"


def _raw(answer: Answer, *, head: bool, close: bool) -> bytes:
    lines = [f"HTTP/1.1 {answer.status} {HTTPStatus(answer.status).phrase}".encode()]
    lines += [name + b": " + value for name, value in answer.headers]
    lines.append(f"content-length: {len(answer.body)}".encode())
    if close:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head else answer.body)


def provider_protocol(
    latency_ms: float = 0, media_base_url: str | None = None
) -> Callable[[], asyncio.Protocol]:
    """The lean server's protocol factory, for `loop.create_server`."""
    provider = _Provider(build_catalogue(), media_base_url)
    return lambda: _Connection(provider, latency_ms / 1000)


def run(host: str, port: int, latency_ms: float = 0, media_base_url: str | None = None) -> None:
    """Serve until interrupted (`figway fake-provider`): the lean server on uvloop, so that
    the provider's CPU per call stays small next to what the benchmarks measure."""
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        # As uvicorn did: a container's first process gets no default action for SIGTERM.
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        server = await loop.create_server(
            provider_protocol(latency_ms, media_base_url), host, port, backlog=4096
        )
        await stop.wait()
        server.close()

    uvloop.run(main())
