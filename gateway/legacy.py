"""The legacy side under load: a bounded wait for a2wsgi's threads, and a timeout.

a2wsgi queues without limit in its executor; past `threads + queue` requests in the
legacy side the gateway answers 503 with Retry-After at once instead. A request that has
not started its response after `timeout_s` is answered 504 and logged; its WSGI thread
cannot be killed, so it runs to the end with its output discarded and keeps counting
against the bound until it does (cancelling it instead could strand the thread on a2wsgi's
full send queue for good).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from urllib.parse import quote_from_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.wsgi import CLIENT_GONE
from shared.errors import AppError, Timeout, Unavailable

log = logging.getLogger("figway.gateway")
_QUERY_SAFE = "=&%+;/?:@,$!*'()[]~"


async def send_legacy_error(send: Send, err: AppError, extra: dict[str, str] | None = None) -> None:
    body = json.dumps(err.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [
        (k.lower().encode(), v.encode()) for k, v in {**err.headers, **(extra or {})}.items()
    ]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LegacyGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        threads: int,
        queue: int,
        timeout_s: float,
        on_reject: Callable[[int], None] | None = None,
    ) -> None:
        self.app = app
        self.capacity = threads + queue
        self.timeout_s = timeout_s
        self.in_flight = 0
        self._on_reject = on_reject or (lambda _status: None)
        self._background: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.capacity:
            self._on_reject(503)
            await send_legacy_error(
                send,
                Unavailable("The legacy app is at capacity; retry shortly"),
                {"Retry-After": "1"},
            )
            return
        query: bytes = scope.get("query_string", b"")
        if not query.isascii():
            # a2wsgi decodes the query as ASCII and fails on raw UTF-8 (curl sends it so);
            # percent-encoded, Flask reads the same text a WSGI server would have given it.
            scope = {**scope, "query_string": quote_from_bytes(query, _QUERY_SAFE).encode()}
        self.in_flight += 1
        loop = asyncio.get_running_loop()
        # Resolves with True at the response's start (or the app's end), False at timeout.
        first: asyncio.Future[bool] = loop.create_future()
        state = _RequestState(receive)

        async def guarded_send(message: Message) -> None:
            if state.abandoned:
                return  # the client already has its 504
            if message["type"] == "http.response.start":
                _settle(first, True)
            elif message["type"] == "http.response.body" and message.get("more_body"):
                state.watch()  # a streamed body: notice if its client leaves
            await send(message)

        token = CLIENT_GONE.set(state.gone)
        try:  # the task copies the context, and with it the Event, as it is created
            task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        finally:
            CLIENT_GONE.reset(token)
        task.add_done_callback(self._finished)
        task.add_done_callback(state.finished)
        task.add_done_callback(lambda _t: _settle(first, True))
        timer = loop.call_later(self.timeout_s, _settle, first, False)
        try:
            in_time = await first
        finally:
            timer.cancel()
        if in_time:
            await task  # streaming bodies run as long as they need once started
            return
        state.abandoned = True
        self._background.add(task)
        log.warning(
            "legacy request timed out after %.1fs: %s %s",
            self.timeout_s,
            scope.get("method"),
            scope.get("path"),
        )
        self._on_reject(504)
        await send_legacy_error(send, Timeout("The request took too long"))

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.in_flight -= 1
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("legacy request failed", exc_info=task.exception())


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


class _RequestState:
    """Per request: abandoned after a 504, and the watch for a client leaving a stream."""

    __slots__ = ("_receive", "_watcher", "abandoned", "gone")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._watcher: asyncio.Task[None] | None = None
        self.abandoned = False
        self.gone = threading.Event()

    def watch(self) -> None:
        # Only once the response is streaming: the app has read what it wanted of the
        # body, and from here on receive() only ever says that the client has gone.
        if self._watcher is None:
            self._watcher = asyncio.ensure_future(_watch_disconnect(self._receive, self.gone))

    def finished(self, _task: asyncio.Task[None]) -> None:
        if self._watcher is not None:
            self._watcher.cancel()


async def _watch_disconnect(receive: Receive, gone: threading.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return
        if not message.get("more_body", False):
            # The body is complete. A server then blocks in receive() until the client
            # leaves; one that answers again at once cannot tell us, so stop asking.
            message = await receive()
            if message["type"] == "http.disconnect":
                gone.set()
            return
