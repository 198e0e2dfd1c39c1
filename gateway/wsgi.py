"""The WSGI side of the gateway: a2wsgi, with two things it lacks for a legacy app.

1. One hand-off per plain response. a2wsgi passes every message (the start, each chunk,
   the end) from the WSGI thread to the event loop and waits for each: three blocking
   hand-offs for a JSON answer, which cost more than Flask's own work (measured in
   `make bench`). Here a chunk that completes the declared Content-Length goes over with
   the start, as the final message: one hand-off. Streams are unchanged and never held
   back waiting for a next chunk.
2. Stopping a stream whose client has gone (see stop_when_client_leaves).

It extends a2wsgi's responder, so the dependency is pinned to the minor version it was
written against; tests/gateway/test_wsgi.py checks the message sequences.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, cast

from a2wsgi.wsgi import WSGIMiddleware, WSGIResponder

# Set by LegacyGuard when the client has gone; a2wsgi copies the context into its
# threads, so the WSGI side sees the same Event.
CLIENT_GONE: ContextVar[threading.Event | None] = ContextVar("figway_client_gone", default=None)

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]
Message = dict[str, Any]


class OneHopWSGIMiddleware(WSGIMiddleware):
    def __init__(
        self, app: Callable[..., Iterable[bytes]], workers: int = 10, send_queue_size: int = 10
    ) -> None:
        # a2wsgi types environ as a TypedDict, Flask as a plain dict: the same protocol.
        super().__init__(cast(Any, app), workers=workers, send_queue_size=send_queue_size)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            responder = _OneHopResponder(self.app, self.executor, self.send_queue_size)
            await responder(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class _OneHopResponder(WSGIResponder):
    _pending_start: Message | None = None
    _content_length: int | None = None

    def start_response(self, status: str, response_headers: Any, exc_info: Any = None) -> Any:
        self.exc_info = exc_info
        if not self.response_started:
            self.response_started = True
            headers = [
                (n.strip().encode("latin1").lower(), v.strip().encode("latin1"))
                for n, v in response_headers
            ]
            self._pending_start = {
                "type": "http.response.start",
                "status": int(status.split(" ", 1)[0]),
                "headers": headers,
            }
            self._content_length = _content_length(headers)
        return lambda chunk: self._deliver(
            {"type": "http.response.body", "body": chunk, "more_body": True}
        )

    def _deliver(self, message: Message) -> None:
        """Hand the held start (if any) and `message` to the loop in one go."""
        messages = [message] if self._pending_start is None else [self._pending_start, message]
        self._pending_start = None

        async def put_all() -> None:
            for item in messages:
                await self.send_queue.put(item)

        asyncio.run_coroutine_threadsafe(put_all(), loop=self.loop).result()

    def wsgi(self, environ: Any, start_response: Any) -> None:
        iterable = self.app(environ, start_response)
        try:
            sent = 0
            finished = False
            for chunk in iterable:
                if finished:
                    continue  # past the declared length: nothing more may be sent
                sent += len(chunk)
                finished = self._content_length is not None and sent >= self._content_length
                self._deliver(
                    {"type": "http.response.body", "body": chunk, "more_body": not finished}
                )
            if not finished:
                self._deliver({"type": "http.response.body", "body": b""})
        finally:
            getattr(iterable, "close", lambda: None)()


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def stop_when_client_leaves(app: WSGIApp) -> WSGIApp:
    """WSGI middleware: stop iterating a response (and close it) once its client has gone.

    A WSGI server learns this from a failed write; behind a2wsgi the app never would, and a
    streamed legacy response (an ffmpeg transcode) would run to its end for nobody.
    """

    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        gone = CLIENT_GONE.get()
        iterable = app(environ, start_response)
        return iterable if gone is None else _UntilGone(iterable, gone)

    return wrapped


class _UntilGone:
    def __init__(self, iterable: Iterable[bytes], gone: threading.Event) -> None:
        self._iterable = iterable
        self._gone = gone

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._iterable:
            if self._gone.is_set():
                return
            yield chunk

    def close(self) -> None:
        close = getattr(self._iterable, "close", None)
        if close is not None:
            close()
