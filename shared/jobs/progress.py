"""Live download progress: what the job publishes after each change to its row, fanned out
to the WebSocket clients watching that download.

Two buses, one shape. In embedded mode (no REDIS_URL) the jobs run in threads of the same
process as the WebSockets, so an in-process bus is enough. With Redis, jobs run in Celery
workers on any machine, so the worker publishes on a Redis channel per download and every
gateway process subscribes to the channels its clients watch. Either way a message is the
download's JSON exactly as GET /api/downloads/<id> answers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis
import redis.asyncio

log = logging.getLogger("figway.downloads")


class Subscription(Protocol):
    async def next(self, wait_s: float) -> dict[str, Any] | None:
        """The next message, or None if none came within `wait_s` seconds."""


class ProgressBus(Protocol):
    def publish(self, download_id: int, payload: dict[str, Any]) -> None:
        """From a job's thread (never from the event loop: it may block on the network)."""

    def subscribe(self, download_id: int) -> Any:
        """`async with bus.subscribe(id) as subscription:` (subscribed on entry)."""

    async def aclose(self) -> None: ...


class _LocalSubscription:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def put(self, payload: dict[str, Any]) -> None:
        # RuntimeError: its loop is closed, the subscriber is gone.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, payload)

    async def next(self, wait_s: float) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self._queue.get(), wait_s)
        except TimeoutError:
            return None


class LocalProgress:
    """Jobs and subscribers in one process: threads publish, event loops receive."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[_LocalSubscription]] = {}

    def publish(self, download_id: int, payload: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(download_id, ()))
        for subscriber in subscribers:
            subscriber.put(payload)

    @asynccontextmanager
    async def subscribe(self, download_id: int) -> AsyncIterator[_LocalSubscription]:
        subscription = _LocalSubscription(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.setdefault(download_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                watching = self._subscribers.get(download_id, set())
                watching.discard(subscription)
                if not watching:
                    self._subscribers.pop(download_id, None)

    async def aclose(self) -> None:
        return None


def fan_out(*hooks: Callable[[int, dict[str, Any]], None]) -> Callable[[int, dict[str, Any]], None]:
    """One publish hook telling several listeners (the WebSockets' bus, the Socket.IO
    channel); one that fails does not keep the message from the others."""

    def publish(download_id: int, payload: dict[str, Any]) -> None:
        for hook in hooks:
            try:
                hook(download_id, payload)
            except Exception:  # live progress is a courtesy: the row stays the truth
                log.warning("download %s: could not publish progress", download_id, exc_info=True)

    return publish


def channel(queue: str, download_id: int) -> str:
    """The download's channel, within its queue's: two deployments (or test runs) sharing
    one Redis never hear each other's downloads of the same id."""
    return f"figway:downloads:{queue}:{download_id}"


# Redis errors and the socket errors below them: what a Redis that died or hung raises.
_LOST = (redis.RedisError, OSError)
# After a failed publish, the jobs of this process publish nothing for this long: a hung
# Redis must not cost every progress write its timeout (the sockets read the row meanwhile).
PUBLISH_PAUSE_S = 5.0


class _Outage:
    """One log line when Redis goes away and one when it is back, however many calls fail
    in between (a traceback per publish per download flooded the worker's log)."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self._down = False

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            first, self._down = not self._down, True
        if first:
            log.warning(
                "live progress: cannot %s on Redis (%r); clients read the row", self._what, exc
            )

    def recovered(self) -> None:
        with self._lock:
            was, self._down = self._down, False
        if was:
            log.info("live progress: can %s on Redis again", self._what)


class _RedisSubscription:
    """One download's channel; while Redis is away, `next` waits and returns None (the
    socket reads the row) and tries to subscribe again."""

    def __init__(self, client: redis.asyncio.Redis, name: str, outage: _Outage, timeout: float):
        self._client = client
        self._channel = name
        self._outage = outage
        self._timeout = timeout
        self._pubsub: redis.asyncio.client.PubSub | None = None

    async def subscribe(self, wait_s: float | None = None) -> bool:
        pubsub = self._client.pubsub()
        bound = self._timeout if wait_s is None else min(wait_s, self._timeout)
        try:
            # Bounded: subscribing to a hung Redis would otherwise wait for ever.
            await asyncio.wait_for(pubsub.subscribe(self._channel), bound)
        except (*_LOST, TimeoutError) as exc:
            self._outage.failed(exc)
            await _close(pubsub)
            return False
        self._outage.recovered()
        self._pubsub = pubsub
        return True

    async def next(self, wait_s: float) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        until = loop.time() + wait_s
        if self._pubsub is None:
            if not await self.subscribe(wait_s):
                await asyncio.sleep(max(0.0, until - loop.time()))
            # Subscribed again or not, changes made meanwhile were missed: read the row.
            return None
        try:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_s)
        except _LOST as exc:
            self._outage.failed(exc)
            await self.aclose()
            await asyncio.sleep(max(0.0, until - loop.time()))
            return None
        if message is None:
            return None
        payload: dict[str, Any] = json.loads(message["data"])
        return payload

    async def aclose(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _close(pubsub)


async def _close(pubsub: redis.asyncio.client.PubSub) -> None:
    with contextlib.suppress(*_LOST):  # its connection may be the thing that broke
        await pubsub.aclose()  # type: ignore[no-untyped-call]


class RedisProgress:
    """Workers publish on a channel per download; WebSockets subscribe to it. Clients are
    made on first use: the sync one in whichever thread publishes (redis-py's pool is
    thread-safe), the async one on the loop that serves the WebSockets.

    Live progress is a courtesy, the row stays the truth: when Redis dies or hangs, a
    publish is dropped (within `timeout`, redis-py's own retries off) and a subscription
    waits and resubscribes, while the sockets read the row."""

    def __init__(self, url: str, timeout: float, queue: str) -> None:
        self._url = url
        self._timeout = timeout
        self._queue = queue
        self._lock = threading.Lock()
        self._sync: redis.Redis | None = None
        self._async: redis.asyncio.Redis | None = None
        self._publishing = _Outage("publish")
        self._subscribing = _Outage("subscribe")
        self._quiet_until = 0.0

    def _bounded(self) -> dict[str, Any]:
        return {
            "socket_connect_timeout": self._timeout,
            "socket_timeout": self._timeout,
            "retry": None,
        }

    def publish(self, download_id: int, payload: dict[str, Any]) -> None:
        with self._lock:
            if time.monotonic() < self._quiet_until:
                return
            if self._sync is None:
                self._sync = redis.Redis.from_url(self._url, **self._bounded())
            client = self._sync
        try:
            client.publish(channel(self._queue, download_id), json.dumps(payload))
        except _LOST as exc:
            with self._lock:
                self._quiet_until = time.monotonic() + PUBLISH_PAUSE_S
            self._publishing.failed(exc)
            return
        self._publishing.recovered()

    @asynccontextmanager
    async def subscribe(self, download_id: int) -> AsyncIterator[_RedisSubscription]:
        if self._async is None:
            # No socket_timeout here: a subscription waits on its socket by design.
            bounded = {**self._bounded(), "socket_timeout": None}
            self._async = redis.asyncio.Redis.from_url(self._url, **bounded)
        subscription = _RedisSubscription(
            self._async, channel(self._queue, download_id), self._subscribing, self._timeout
        )
        await subscription.subscribe()
        try:
            yield subscription
        finally:
            await subscription.aclose()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None
        with self._lock:
            if self._sync is not None:
                self._sync.close()
                self._sync = None
