"""The real-time channel's twin: python-socketio's ASGI server, namespace /downloads
(shared.realtime), mounted at /socket.io/.

It offers the WebSocket upgrade the WSGI side cannot. With REDIS_URL its clients are
reached through Redis (AsyncRedisManager), so a job in any process, a Celery worker
included, emits to them; without, this process's jobs call it directly (embedded mode).
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio
from starlette.requests import HTTPConnection

from fastapi_app.deps import caller, check_level
from fastapi_app.routers.downloads import read_download, step_connection
from fastapi_app.state import Modern
from shared import realtime
from shared.auth.roles import AuthLevel
from shared.errors import AppError
from shared.realtime.emitter import serve_locally

LEVEL: AuthLevel = "user"  # as GET /api/downloads/<id>


class DownloadsNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, state: Modern, channel: ModernChannel) -> None:
        super().__init__(realtime.NAMESPACE)
        self.state = state
        self.channel = channel

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self.channel.loop = asyncio.get_running_loop()
        connection = HTTPConnection(environ["asgi.scope"])
        try:
            async with step_connection(self.state) as db:
                check_level(await caller(connection, self.state, db), LEVEL)
        except AppError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                *realtime.refusal(exc.body())
            ) from None

    async def on_watch(self, sid: str, data: Any) -> dict[str, Any]:
        try:
            download_id = realtime.watched(data)
            # Joined before the read: a change in between arrives as an event, not lost.
            await self.enter_room(sid, realtime.room(download_id))
            try:
                answer: dict[str, Any] = await read_download(self.state, download_id)
            except AppError:
                await self.leave_room(sid, realtime.room(download_id))
                raise
        except AppError as exc:
            return exc.body()
        return answer

    async def on_unwatch(self, sid: str, data: Any) -> dict[str, Any] | None:
        try:
            await self.leave_room(sid, realtime.room(realtime.watched(data)))
        except AppError as exc:
            return exc.body()
        return None


class ModernChannel:
    """The Socket.IO server and the ASGI app that serves it."""

    def __init__(self, state: Modern) -> None:
        settings = state.settings
        manager = None
        if settings.redis_url:
            manager = socketio.AsyncRedisManager(
                settings.redis_url, channel=settings.socketio_channel
            )
        self.server = socketio.AsyncServer(
            async_mode="asgi", client_manager=manager, **realtime.server_options()
        )
        self.server.register_namespace(DownloadsNamespace(state, self))
        # Mounted at /socket.io: every path under it is the server's (Starlette passes the
        # full path, so the server is given none to check).
        self.app = socketio.ASGIApp(self.server, socketio_path=None)
        self.loop: asyncio.AbstractEventLoop | None = None  # the serving loop, at connect
        if not settings.redis_url:
            serve_locally(self)

    def emit_progress(self, download_id: int, payload: dict[str, Any]) -> None:
        """From a job's thread: scheduled on the loop that serves the clients (none
        connected yet: nobody to tell)."""
        loop = self.loop
        if loop is None:
            return
        emit = self.server.emit(
            realtime.PROGRESS,
            payload,
            room=realtime.room(download_id),
            namespace=realtime.NAMESPACE,
        )
        try:
            asyncio.run_coroutine_threadsafe(emit, loop)
        except RuntimeError:  # that loop is closed: the app was shut down
            emit.close()
            self.loop = None
