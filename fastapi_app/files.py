"""Files answered as Flask's send_file(conditional=True, etag=True) answers them, without
blocking the loop, and the streamed response both the file and the transcode answers use.

The status and headers are shared.web.conditional's decision (werkzeug's rules, written
natively): ETag, Last-Modified, Cache-Control, Content-Disposition, 206/304/412 and the
416 cases, byte for byte. Only the stat, the open and each chunk's read run in a worker
thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import IO

import anyio
from fastapi import Request, Response
from starlette.types import Receive, Scope, Send

from shared.errors import RangeNotSatisfiable
from shared.web.conditional import Conditions, Decision, FileStat, decide

CHUNK_BYTES = 64 * 1024


async def send_file(request: Request, path: Path, mimetype: str) -> Response:
    """The file at `path` with `mimetype`; an unsatisfiable Range is the legacy 416 with
    the Content-Range RFC 9110 asks for (legacy_flask/blueprints/media.py words it so)."""
    absolute, stat = await asyncio.to_thread(_absolute_stat, path)
    decision = decide(absolute, stat, conditions(request), mimetype=mimetype)
    if decision.status == 416:
        raise RangeNotSatisfiable(
            headers={"Content-Range": f"bytes */{stat.size}", "Accept-Ranges": "bytes"}
        )
    return file_response(request, absolute, decision)


def _absolute_stat(path: Path) -> tuple[str, FileStat]:
    """The absolute path (werkzeug hashes it into the ETag) and its stat. Blocking (the
    working directory, the stat): run it in a worker thread."""
    absolute = os.path.abspath(path)
    found = os.stat(absolute)
    return absolute, FileStat(size=found.st_size, mtime=found.st_mtime)


def conditions(request: Request) -> Conditions:
    """The conditional headers as a WSGI server hands them to Flask: a repeated header's
    values joined with commas, an absent one None."""

    def header(name: str) -> str | None:
        values = request.headers.getlist(name)
        return ",".join(values) if values else None

    return Conditions(
        range=header("range"),
        if_range=header("if-range"),
        if_none_match=header("if-none-match"),
        if_modified_since=header("if-modified-since"),
        if_match=header("if-match"),
    )


def file_response(request: Request, path: str, decision: Decision) -> Response:
    """The decision's status and headers, the body read from the file (none for HEAD)."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in decision.headers]
    stop = decision.start if request.method == "HEAD" else decision.stop
    body = _FileBody(Path(path), decision.start, stop)
    return Streamed(decision.status, raw, body.chunks, body.aclose)


class _FileBody:
    """Bytes [start, stop) of a file, read in chunks in a worker thread each."""

    def __init__(self, path: Path, start: int, stop: int) -> None:
        self._path, self._start, self._stop = path, start, stop
        self._file: IO[bytes] | None = None

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        remaining = self._stop - self._start
        if remaining <= 0:
            return
        self._file = await asyncio.to_thread(self._open)
        while remaining > 0:
            chunk = await asyncio.to_thread(self._file.read, min(CHUNK_BYTES, remaining))
            if not chunk:
                break  # the file shrank since the stat: end early, as Flask would
            remaining -= len(chunk)
            yield chunk

    def _open(self) -> IO[bytes]:
        file = self._path.open("rb")
        file.seek(self._start)
        return file

    async def aclose(self) -> None:
        if self._file is not None:
            await asyncio.to_thread(self._file.close)
            self._file = None


class Streamed(Response):
    """A body streamed from `chunks`, ended early when the client goes away, and `close`
    always run (shielded) before the ASGI call returns.

    Starlette's StreamingResponse does not listen for http.disconnect when the server says
    ASGI spec 2.4: it trusts `send` to fail instead, which a server that buffers sends never
    does; then ffmpeg would run on for a client long gone. This one listens either way.
    """

    def __init__(
        self,
        status: int,
        raw_headers: list[tuple[bytes, bytes]],
        chunks: Callable[[], AsyncGenerator[bytes, None]],
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self.status_code = status
        self.raw_headers = raw_headers
        self.background = None
        self._chunks = chunks
        self._close = close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def respond() -> None:
                    # OSError: a 2.4 server's way to say the client left; nothing to send to.
                    with contextlib.suppress(OSError):
                        await self._respond(send)
                    group.cancel_scope.cancel()

                group.start_soon(respond)
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()
        finally:
            # Shielded: a cancelled request must still kill and reap ffmpeg.
            with anyio.CancelScope(shield=True):
                await self._close()

    async def _respond(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        chunks = self._chunks()
        try:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            await chunks.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
