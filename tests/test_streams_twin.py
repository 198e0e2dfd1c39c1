"""The stream twin, for what the parity runner cannot show: every header Flask sends for
the same file (parity compares a few, and each side has its own file there), a client that
leaves mid-transcode, the bound on transcodes, and an event loop that never blocks.

The twin is driven as a server drives it, by ASGI messages on one event loop: the client
here reads the first chunk of a transcode and then stops reading (its `send` stalls, like
a full socket), until it hangs up with `http.disconnect`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.types import Message

from fastapi_app import create_fastapi_app
from legacy_flask import create_app
from shared.config import Settings
from shared.db.models import Artist, Video
from shared.media.ffmpeg import make_sample_video
from tests import media_fixtures
from tests.loop_guard import guarding
from tests.media_fixtures import ffmpeg_binary, place_video

# A fixture this module uses by name, bound here so pytest finds it.
sample_video = media_fixtures.sample_video

DISCONNECT_LIMIT_S = 2.0
# The loop may be late by scheduling noise, never by a blocking read or wait.
LOOP_LAG_LIMIT_S = 0.5


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Far more transcoded output than the pipe and the stream buffers hold: a client that
    stops reading leaves ffmpeg blocked, still running, until the twin kills it."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    return make_sample_video(ffmpeg_binary(), path, seconds=20, size="640x480")


def _video_on_disk(db_session: Session, settings: Settings, source: Path) -> int:
    artist = Artist(name="Twin Artist", genres=[])
    db_session.add(artist)
    db_session.flush()
    video = Video(artist_id=artist.id, title="Twin Song", status="downloaded")
    db_session.add(video)
    db_session.flush()
    video.file_path = str(place_video(settings, source, video.id))
    db_session.commit()
    return video.id


@pytest.fixture
def auth(bearer: Callable[[str], dict[str, str]]) -> dict[str, str]:
    return bearer("readonly")


@dataclass
class _Client:
    """One request, as a server hands it to the app. With `stall`, the client reads the
    first body chunk and then nothing more until `hang_up`."""

    app: FastAPI
    path: str
    headers: dict[str, str]
    stall: bool = False
    status: int | None = None
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    first_chunk: asyncio.Event = field(default_factory=asyncio.Event)
    left: asyncio.Event = field(default_factory=asyncio.Event)
    _asked: bool = False

    async def run(self) -> None:
        path, _, query = self.path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in self.headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        await self.app(scope, self._receive, self._send)

    def hang_up(self) -> None:
        self.left.set()

    async def _receive(self) -> Message:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.response_headers = list(message.get("headers", []))
            return
        self.body += message.get("body", b"")
        if self.body and not self.first_chunk.is_set():
            self.first_chunk.set()
        if not message.get("more_body", False):
            self.left.set()  # done: a server reports the end as a disconnect too
        elif self.stall and self.body:
            await self.left.wait()  # a client that reads no more: sends pile up, then wait

    def header(self, name: str) -> str | None:
        for k, v in self.response_headers:
            if k.decode("latin-1") == name:
                return v.decode("latin-1")
        return None


# ffmpeg children this process had before the test: earlier tests' business, not ours.
_BEFORE: set[int] = set()


@pytest.fixture(autouse=True)
def _ffmpeg_baseline() -> None:
    _BEFORE.clear()
    _BEFORE.update(media_fixtures.ffmpeg_children(os.getpid()))


def _ffmpeg_children() -> list[int]:
    """The ffmpeg children started during this test and not yet reaped."""
    return [pid for pid in media_fixtures.ffmpeg_children(os.getpid()) if pid not in _BEFORE]


def _run(settings: Settings, scenario: Callable[[FastAPI], Any]) -> Any:
    """`scenario(app)` on a fresh loop, with the event-loop guard armed throughout."""

    async def main() -> Any:
        app = create_fastapi_app(settings)
        try:
            return await scenario(app)
        finally:
            await app.state.figway.aclose()

    with guarding() as caught:
        result = asyncio.run(main())
    assert caught == []
    return result


# Headers -----------------------------------------------------------------------------

# Each side stamps its own Date; the rest must be the very same bytes.
_OWN_HEADERS = {"date"}
_REQUESTS: tuple[dict[str, str], ...] = (
    {},
    {"Range": "bytes=0-99"},
    {"Range": "bytes=100-"},
    {"Range": "bytes=-50"},
    {"Range": "bytes=99999999-"},
    {"Range": "bytes=0-1,5-6"},
    {"If-None-Match": "*"},
    {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    {"If-Match": '"stale"'},
    {"Range": "bytes=0-9", "If-Range": '"stale"'},
)


@pytest.mark.parametrize("extra", _REQUESTS, ids=lambda h: json.dumps(h) if h else "plain")
def test_every_header_is_flasks(
    db_session: Session,
    settings: Settings,
    sample_video: Path,
    auth: dict[str, str],
    extra: dict[str, str],
) -> None:
    """The same file on both sides here, so even ETag and Last-Modified must agree."""
    video_id = _video_on_disk(db_session, settings, sample_video)
    url, headers = f"/api/videos/{video_id}/stream", {**auth, **extra}
    # Flask itself, even when the suite runs through the gateway (then `app` is the twin).
    legacy = create_app(settings)
    try:
        flask = legacy.test_client().get(url, headers=headers, buffered=True)
    finally:
        legacy.extensions["figway"].close()
    expected = sorted(
        (k.lower(), v) for k, v in flask.headers.items() if k.lower() not in _OWN_HEADERS
    )

    async def scenario(fastapi: FastAPI) -> _Client:
        client = _Client(fastapi, url, headers)
        await client.run()
        return client

    twin = _run(settings, scenario)
    got = sorted(
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in twin.response_headers
        if k.decode("latin-1") not in _OWN_HEADERS
    )
    if flask.is_json:
        # An error: the contract compares JSON parsed (Flask's ends in a newline, so the
        # lengths differ by one).
        assert json.loads(twin.body) == flask.get_json()
        expected = [(k, v) for k, v in expected if k != "content-length"]
        got = [(k, v) for k, v in got if k != "content-length"]
    else:
        assert twin.body == flask.get_data()
    assert (twin.status, got) == (flask.status_code, expected)


# Transcodes --------------------------------------------------------------------------


def test_a_client_leaving_mid_transcode_kills_ffmpeg_at_once(
    db_session: Session, settings: Settings, long_video: Path, auth: dict[str, str]
) -> None:
    video_id = _video_on_disk(db_session, settings, long_video)

    async def scenario(app: FastAPI) -> float:
        client = _Client(app, f"/api/videos/{video_id}/stream?transcode=1", auth, stall=True)
        served = asyncio.create_task(client.run())
        await asyncio.wait_for(client.first_chunk.wait(), 30)
        assert client.status == 200 and client.body[4:8] == b"ftyp"
        await asyncio.sleep(0.3)  # time enough to finish, had it not been stalled
        assert len(_ffmpeg_children()) == 1, "ffmpeg should still be running, blocked"
        client.hang_up()
        left_at = time.monotonic()
        await asyncio.wait_for(served, DISCONNECT_LIMIT_S)
        return time.monotonic() - left_at

    assert _run(settings, scenario) < DISCONNECT_LIMIT_S
    assert _ffmpeg_children() == []  # killed and reaped: not even a zombie


def test_transcodes_past_the_bound_get_503_until_one_ends(
    db_session: Session, settings: Settings, long_video: Path, auth: dict[str, str]
) -> None:
    video_id = _video_on_disk(db_session, settings, long_video)
    url = f"/api/videos/{video_id}/stream?transcode=1"
    bounded = settings.model_copy(update={"max_transcodes": 2})

    async def scenario(app: FastAPI) -> None:
        held = [_Client(app, url, auth, stall=True) for _ in range(2)]
        tasks = [asyncio.create_task(c.run()) for c in held]
        for client in held:
            await asyncio.wait_for(client.first_chunk.wait(), 30)
        refused = _Client(app, url, auth)
        await refused.run()
        assert refused.status == 503
        assert refused.header("retry-after") == "5"
        assert json.loads(refused.body) == {
            "error": "Too many transcodes running; try again shortly",
            "code": "UNAVAILABLE",
        }
        # The plain file is no transcode: never refused by the bound.
        plain = _Client(app, url.split("?")[0], {**auth, "Range": "bytes=0-9"})
        await plain.run()
        assert plain.status == 206
        held[0].hang_up()
        await asyncio.wait_for(tasks[0], DISCONNECT_LIMIT_S)
        again = _Client(app, url, {**auth, "Range": "bytes=0-9"}, stall=True)
        again_task = asyncio.create_task(again.run())
        await asyncio.wait_for(again.first_chunk.wait(), 30)
        assert again.status == 200  # the freed slot; Range means nothing to a transcode
        for client in (held[1], again):
            client.hang_up()
        await asyncio.wait_for(asyncio.gather(tasks[1], again_task), DISCONNECT_LIMIT_S)

    _run(bounded, scenario)
    assert _ffmpeg_children() == []


def test_a_transcode_read_to_the_end_frees_its_slot(
    db_session: Session, settings: Settings, sample_video: Path, auth: dict[str, str]
) -> None:
    video_id = _video_on_disk(db_session, settings, sample_video)
    url = f"/api/videos/{video_id}/stream?transcode=1"
    single = settings.model_copy(update={"max_transcodes": 1})

    async def scenario(app: FastAPI) -> list[_Client]:
        done = []
        for _ in range(2):  # the second would be a 503 had the first kept its slot
            client = _Client(app, url, auth)
            await asyncio.wait_for(client.run(), 30)
            done.append(client)
        return done

    for client in _run(single, scenario):
        assert client.status == 200 and b"moof" in client.body
        assert client.header("cache-control") == "no-store"
        assert client.header("accept-ranges") == "none"
        assert client.header("content-length") is None
    assert _ffmpeg_children() == []


# The event loop ----------------------------------------------------------------------


@pytest.fixture
def lag() -> Iterator[list[float]]:
    """Filled by `_ticker`: how late each tick of the loop came."""
    yield []


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    period = 0.01
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(period)
        lags.append(time.monotonic() - before - period)


def test_streaming_never_blocks_the_loop(
    db_session: Session,
    settings: Settings,
    long_video: Path,
    auth: dict[str, str],
    lag: list[float],
) -> None:
    """A whole file and a transcode served side by side while the loop keeps ticking; the
    guard (see _run) fails on any blocking call made on the loop's thread."""
    video_id = _video_on_disk(db_session, settings, long_video)
    url = f"/api/videos/{video_id}/stream"

    async def scenario(app: FastAPI) -> tuple[_Client, _Client]:
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(lag, stop))
        whole = _Client(app, url, auth)
        transcode = _Client(app, f"{url}?transcode=1", auth)
        await asyncio.wait_for(asyncio.gather(whole.run(), transcode.run()), 60)
        stop.set()
        await ticker
        return whole, transcode

    whole, transcode = _run(settings, scenario)
    assert whole.status == 200 and whole.body == long_video.read_bytes()
    assert transcode.status == 200 and b"moof" in transcode.body
    assert lag and max(lag) < LOOP_LAG_LIMIT_S
    assert _ffmpeg_children() == []
