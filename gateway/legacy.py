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
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import AppError, Timeout, Unavailable

log = logging.getLogger("figway.gateway")


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
        self.in_flight += 1
        started = asyncio.Event()
        abandoned = False

        async def guarded_send(message: Message) -> None:
            if abandoned:
                return  # the client already has its 504
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        task.add_done_callback(self._finished)
        waiter = asyncio.ensure_future(started.wait())
        try:
            await asyncio.wait(
                {task, waiter}, timeout=self.timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
        if task.done() or started.is_set():
            await task  # streaming bodies run as long as they need once started
            return
        abandoned = True
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
