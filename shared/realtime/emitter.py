"""Progress to every Socket.IO client watching a download, from whichever thread runs it.

With REDIS_URL, the Socket.IO servers of every process (both sides of every gateway) share
a Redis channel through python-socketio's Redis managers, and a job anywhere, a Celery
worker included, emits on it with a write-only manager: its documented way of emitting
from outside a server. Without Redis (the embedded defaults) the jobs run in the process
that serves the channel, so the emitter calls the servers of this process directly.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any, Protocol

from shared.config import Settings
from shared.realtime import NAMESPACE, PROGRESS, room

log = logging.getLogger("figway.realtime")

# After a publish that took its whole timeout (Redis hung), this process's jobs emit
# nothing for this long: progress is a courtesy, a download must not wait on it.
PUBLISH_PAUSE_S = 5.0


class ProgressSink(Protocol):
    def emit_progress(self, download_id: int, payload: dict[str, Any]) -> None:
        """Thread-safe: to this server's clients in the download's room."""


_local: weakref.WeakSet[ProgressSink] = weakref.WeakSet()
_local_lock = threading.Lock()


def serve_locally(sink: ProgressSink) -> None:
    """A Socket.IO server of this process, to be told of this process's jobs (embedded
    mode). Held weakly: a server that goes away leaves by itself."""
    with _local_lock:
        _local.add(sink)


class ProgressEmitter:
    """`emit(download_id, payload)`: a job's publish hook (shared.jobs.downloads)."""

    def __init__(self, settings: Settings) -> None:
        self._manager: Any = None
        self._timeout = min(settings.broker_timeout_s, 1.0)
        self._quiet_until = 0.0
        if settings.redis_url:
            import socketio

            self._manager = socketio.RedisManager(
                settings.redis_url,
                channel=settings.socketio_channel,
                write_only=True,
                logger=log,
                # Bounded: a hung Redis costs a job at most two timeouts (the manager
                # retries once), then a pause.
                redis_options={
                    "socket_timeout": self._timeout,
                    "socket_connect_timeout": self._timeout,
                    "retry": None,
                },
            )

    def emit(self, download_id: int, payload: dict[str, Any]) -> None:
        if self._manager is None:
            with _local_lock:
                sinks = list(_local)
            for sink in sinks:
                sink.emit_progress(download_id, payload)
            return
        if time.monotonic() < self._quiet_until:
            return
        started = time.monotonic()
        # The manager logs and swallows its own failures.
        self._manager.emit(PROGRESS, payload, namespace=NAMESPACE, room=room(download_id))
        if time.monotonic() - started >= self._timeout:
            self._quiet_until = time.monotonic() + PUBLISH_PAUSE_S
