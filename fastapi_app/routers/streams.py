"""Streams: the twins of legacy_flask/blueprints/media.py.

Nothing here blocks the loop: the stored path is one statement awaited on the request's
connection (the one Flask runs, shared.services.media), the file is sent by
fastapi_app/files.py (werkzeug's rules, natively; reads in a worker thread), and ffmpeg is an
asyncio subprocess whose stdout is read without blocking.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from fastapi_app.deps import ConnectionDep, SettingsDep, require
from fastapi_app.docs import answers
from fastapi_app.files import CHUNK_BYTES, Streamed, send_file
from fastapi_app.query import BLANK_IS_ABSENT, LOWERED, OneOf
from fastapi_app.responses import JSONRoute
from shared.config import Settings
from shared.db.engine import end_connection
from shared.errors import Unavailable
from shared.media.ffmpeg import FfmpegMissing, ffmpeg_exe, transcode_command
from shared.services import media as service
from shared.services.auth import Caller
from shared.services.videos import video_params

router = APIRouter(tags=["media"], route_class=JSONRoute)
Reader = Annotated[Caller | None, Depends(require("readonly"))]

RETRY_AFTER_S = "5"  # as the legacy 503 says it
# Any case; refused before the video is looked up, on both sides.
Transcode = Annotated[
    str | None,
    Query(description="Stream as fragmented MP4"),
    OneOf(service.TRANSCODE_WORDS),
    LOWERED,
    BLANK_IS_ABSENT,
]
_SLOTS_ATTR = "figway_transcodes"

# A binary 200/206 has no model (the parity runner checks models on JSON answers only).
# video/mp4 always for a transcode, mostly for a file; video/* covers webm, mkv and the rest.
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_VIDEO = {"video/mp4": _BINARY, "video/*": _BINARY}
STREAM_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file, or with ?transcode=1 a fragmented MP4", "content": _VIDEO},
    206: {"description": "The byte range asked for with Range", "content": _VIDEO},
    304: {"description": "Not modified (If-None-Match, If-Modified-Since)"},
    **answers(None, 400, 404, 416, 503),
}


@router.get(
    "/api/videos/{video_id:int}/stream",
    response_model=None,
    responses=STREAM_ANSWERS,
    response_class=Response,
)
async def stream(
    video_id: int,
    request: Request,
    _user: Reader,
    db: ConnectionDep,
    settings: SettingsDep,
    transcode: Transcode = None,
) -> Response:
    params = video_params(video_id)
    stored = service.stored_video_file((await db.execute(service.VIDEO_FILE_STMT, params)).first())
    # The stream may outlast the request by far: hold no connection meanwhile (the pool
    # has it back now; the dependency's own close is then a no-op).
    await end_connection(db)
    # It stats and resolves: filesystem calls, so off the loop.
    path = await asyncio.to_thread(service.existing_video_file, settings, stored)
    if transcode in service.TRANSCODE_YES:
        return await _transcoded(request, settings, path)
    return await send_file(request, path, service.video_mimetype(path))


# The file ---------------------------------------------------------------------------


# The transcode ----------------------------------------------------------------------


def _slots(request: Request, settings: Settings) -> asyncio.Semaphore:
    """One bound per app, made on first use (as Flask's is): settings.max_transcodes then."""
    state = request.app.state
    slots = getattr(state, _SLOTS_ATTR, None)
    if slots is None:
        slots = asyncio.Semaphore(settings.max_transcodes)
        setattr(state, _SLOTS_ATTR, slots)
    assert isinstance(slots, asyncio.Semaphore)
    return slots


async def _transcoded(request: Request, settings: Settings, path: Path) -> Response:
    slots = _slots(request, settings)
    # Non-blocking acquire: a full house is answered at once, never queued.
    if slots.locked():
        raise Unavailable(
            "Too many transcodes running; try again shortly", headers={"Retry-After": RETRY_AFTER_S}
        )
    await slots.acquire()  # returns at once: not locked, and nothing ran in between
    try:
        # Locating the binary may run a subprocess (imageio-ffmpeg): off the loop.
        exe = await asyncio.to_thread(ffmpeg_exe, settings)
        proc = await asyncio.create_subprocess_exec(
            *transcode_command(exe, path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            # No pipe at all: one nobody reads could fill up and stall ffmpeg.
            stderr=asyncio.subprocess.DEVNULL,
        )
    except (FfmpegMissing, OSError) as exc:
        slots.release()
        raise Unavailable("Transcoding is not available") from exc
    job = _Transcode(proc, slots)
    headers = [
        (b"content-type", b"video/mp4"),
        (b"cache-control", b"no-store"),
        (b"accept-ranges", b"none"),
    ]
    return Streamed(200, headers, job.chunks, job.aclose)


class _Transcode:
    """One ffmpeg process piping to one response; closing kills and reaps it and frees
    its slot."""

    def __init__(self, proc: asyncio.subprocess.Process, slots: asyncio.Semaphore) -> None:
        self._proc = proc
        self._slots = slots
        self._closed = False
        self._finished = False

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        stdout = self._proc.stdout
        assert stdout is not None
        # read(n): what ffmpeg has written so far, up to n, rather than waiting for n.
        while chunk := await stdout.read(CHUNK_BYTES):
            yield chunk
        self._finished = True  # ffmpeg closed its output: it is exiting by itself

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if not self._finished and self._proc.returncode is None:
                # os.kill, not Process.kill: that polls (waitpid) first and can reap a
                # just-exited ffmpeg under asyncio's child watcher, which then reports a
                # made-up exit status. A pid stays ours until the watcher reaps it.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._proc.pid, signal.SIGKILL)
            # Reaped (no zombie left behind), and its stdout read to EOF and closed: a client
            # that stopped reading left that pipe paused, and a paused pipe never sees its
            # EOF, so it would stay open past the process.
            await self._proc.communicate()
        finally:
            self._slots.release()
