"""Files answered as Flask's send_file(conditional=True, etag=True) answers them, without
blocking the loop, and the streamed response both the file and the transcode answers use.

The status and headers are decided by werkzeug's own `send_file`, in a worker thread (it
stats and opens the file), so they are Flask's byte for byte: ETag, Last-Modified,
Cache-Control, Content-Disposition, 206/304/412 and the 416 cases. Only the body is ours,
read in chunks, each in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anyio
from fastapi import Request, Response
from starlette.types import Receive, Scope, Send
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.utils import send_file as werkzeug_send_file

from shared.errors import RangeNotSatisfiable

CHUNK_BYTES = 64 * 1024
# The request headers werkzeug's conditional and range handling reads.
_CONDITIONAL = ("range", "if-range", "if-modified-since", "if-none-match", "if-match")


async def send_file(request: Request, path: Path, mimetype: str) -> Response:
    conditional = {
        f"HTTP_{k.upper().replace('-', '_')}": v
        for k, v in request.headers.items()
        if k in _CONDITIONAL
    }
    decision = await asyncio.to_thread(_decide, path, mimetype, conditional)
    body = _FileBody(path, decision.start, decision.stop)
    return Streamed(decision.status, decision.headers, body.chunks, body.aclose)


@dataclass(frozen=True)
class _Decision:
    status: int
    headers: list[tuple[bytes, bytes]]
    start: int  # the body is bytes [start, stop) of the file
    stop: int


def _decide(path: Path, mimetype: str, conditional: dict[str, str]) -> _Decision:
    """What Flask's send_file(conditional=True, etag=True) answers, without its body.
    Blocking (stat, open): runs in a worker thread."""
    environ = {"REQUEST_METHOD": "GET", "wsgi.url_scheme": "http", **conditional}
    try:
        # Flask's send_file adds nothing that changes these headers: max_age is None by
        # default (no-cache), X-Sendfile off, and the path is absolute already.
        response = werkzeug_send_file(path, environ, mimetype=mimetype, conditional=True, etag=True)
    except RequestedRangeNotSatisfiable:
        size = path.stat().st_size
        raise RangeNotSatisfiable(
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"}
        ) from None
    response.close()  # werkzeug's open file: the body is read by _FileBody instead
    headers = response.get_wsgi_headers(environ)  # drops the entity headers of a 304
    status = response.status_code
    start, stop = 0, int(headers.get("Content-Length", "0"))
    if status == 304:
        start = stop = 0
    elif status == 206:
        ranged = response.content_range  # set by werkzeug with the 206
        assert ranged.start is not None and ranged.stop is not None
        start, stop = ranged.start, ranged.stop
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.to_wsgi_list()]
    return _Decision(status, raw, start, stop)


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
                break  # the file shrank since werkzeug's stat: end early, as Flask would
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
