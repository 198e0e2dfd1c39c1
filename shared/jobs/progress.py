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
from collections.abc import AsyncIterator
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


def channel(download_id: int) -> str:
    return f"figway:downloads:{download_id}"


class _RedisSubscription:
    def __init__(self, pubsub: redis.asyncio.client.PubSub) -> None:
        self._pubsub = pubsub

    async def next(self, wait_s: float) -> dict[str, Any] | None:
        message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_s)
        if message is None:
            return None
        payload: dict[str, Any] = json.loads(message["data"])
        return payload


class RedisProgress:
    """Workers publish on a channel per download; WebSockets subscribe to it. Clients are
    made on first use: the sync one in whichever thread publishes (redis-py's pool is
    thread-safe), the async one on the loop that serves the WebSockets."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._sync: redis.Redis | None = None
        self._async: redis.asyncio.Redis | None = None

    def publish(self, download_id: int, payload: dict[str, Any]) -> None:
        with self._lock:
            if self._sync is None:
                self._sync = redis.Redis.from_url(self._url)
            client = self._sync
        client.publish(channel(download_id), json.dumps(payload))

    @asynccontextmanager
    async def subscribe(self, download_id: int) -> AsyncIterator[_RedisSubscription]:
        if self._async is None:
            self._async = redis.asyncio.Redis.from_url(self._url)
        pubsub = self._async.pubsub()
        await pubsub.subscribe(channel(download_id))
        try:
            yield _RedisSubscription(pubsub)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None
        with self._lock:
            if self._sync is not None:
                self._sync.close()
                self._sync = None
