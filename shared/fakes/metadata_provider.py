"""A local IMVDb-like metadata provider: a deterministic catalogue behind a small ASGI app.

Tests, demos and benchmarks point `metadata_base_url` at it. Every request first waits
`latency_ms` on the event loop (not a thread), so one process can hold hundreds of slow
requests open at once, like a distant provider seen by many clients.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
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


class _Latency:
    """Pure ASGI middleware: every HTTP request waits first, without blocking the loop."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.seconds > 0:
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


class _Provider:
    """The endpoints, answering in the shape of IMVDb's v1 API."""

    def __init__(self, catalogue: Catalogue, media_base_url: str | None) -> None:
        self.catalogue = catalogue
        self.media_base_url = media_base_url.rstrip("/") if media_base_url else None

    async def search(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return _error(400, "q is required")
        page = _positive(request, "page", 1, None)
        per_page = _positive(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
        if page is None or per_page is None:
            return _error(400, "page and per_page must be positive integers")
        found = self.catalogue.search(query)
        shown = found[(page - 1) * per_page : page * per_page]
        origin = _origin(request)
        return JSONResponse(
            {
                "total_results": len(found),
                "current_page": page,
                "per_page": per_page,
                "total_pages": -(-len(found) // per_page),
                "results": [self._artist_summary(a, origin) for a in shown],
            }
        )

    async def entity(self, request: Request) -> Response:
        artist = self.catalogue.artists.get(request.path_params["entity_id"])
        if artist is None:
            return _error(404, "Entity not found")
        origin = _origin(request)
        body = self._artist_summary(artist, origin)
        body["genres"] = list(artist.genres)
        if "artist_videos" in request.query_params.get("include", "").split(","):
            body["artist_videos"] = {
                "total_videos": len(artist.video_ids),
                "videos": [
                    self._video_summary(self.catalogue.videos[v], origin) for v in artist.video_ids
                ],
            }
        return JSONResponse(body)

    async def video(self, request: Request) -> Response:
        video = self.catalogue.videos.get(request.path_params["video_id"])
        if video is None:
            return _error(404, "Video not found")
        origin = _origin(request)
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
        return JSONResponse(body)

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


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _image(origin: str, kind: str, item_id: int) -> dict[str, str]:
    return {size: f"{origin}/images/{kind}/{item_id}-{size}.jpg" for size in _IMAGE_SIZES}


def _positive(request: Request, name: str, default: int, limit: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        return None
    return min(int(raw), limit) if limit is not None else int(raw)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def _http_error(_request: Request, exc: Exception) -> Response:
    # Unknown paths and methods answer JSON too, like the rest of the API.
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, exc.detail)


class _SampleMedia:
    """What the video sources point at: one small real MP4 for every id, made on first use,
    so yt-dlp has something to download from the fake as it would from a real source."""

    def __init__(self) -> None:
        # Kept between runs: the same two seconds of test pattern every time.
        self._path = Path(tempfile.gettempdir()) / "figway-fake-media" / "sample.mp4"
        self._lock = asyncio.Lock()

    async def video(self, request: Request) -> Response:
        async with self._lock:
            if not self._path.exists():
                # ffmpeg takes a second or so: off the event loop.
                await asyncio.to_thread(self._make)
        return FileResponse(
            self._path, media_type="video/mp4", filename=f"{request.path_params['video_id']}.mp4"
        )

    def _make(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        partial = self._path.with_name(f".{os.getpid()}.sample.mp4")
        make_sample_video(find_ffmpeg(), partial, SAMPLE_SECONDS)
        os.replace(partial, self._path)  # other processes see all of it or nothing


def create_provider_app(latency_ms: float = 0, media_base_url: str | None = None) -> Starlette:
    provider = _Provider(build_catalogue(), media_base_url)
    media = _SampleMedia()
    routes = [
        Route("/api/v1/search/entities", provider.search, methods=["GET"]),
        Route("/api/v1/entity/{entity_id:int}", provider.entity, methods=["GET"]),
        Route("/api/v1/video/{video_id:int}", provider.video, methods=["GET"]),
        Route("/videos/{video_id:int}.mp4", media.video, methods=["GET", "HEAD"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(_Latency, seconds=latency_ms / 1000)],
        exception_handlers={HTTPException: _http_error},
    )


def run(host: str, port: int, latency_ms: float = 0, media_base_url: str | None = None) -> None:
    """Serve until interrupted (`figway fake-provider`)."""
    app = create_provider_app(latency_ms, media_base_url)
    uvicorn.run(
        app, host=host, port=port, access_log=False, log_level="warning", lifespan="off", ws="none"
    )
