"""The legacy real-time channel: Flask-SocketIO, namespace /downloads (shared.realtime).

Threading mode and long-polling only, as it must be under WSGI: a WSGI server (and the
gateway's a2wsgi side) cannot hand a socket over, so the server offers no upgrade and
each client's pending poll holds one legacy thread until the next ping.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_socketio import ConnectionRefusedError, Namespace, SocketIO, join_room, leave_room

from legacy_flask.auth import current_user, declare_auth
from legacy_flask.db import db
from shared import realtime
from shared.auth.roles import AuthLevel, has_role
from shared.config import Settings
from shared.errors import AppError, AuthRequired, Forbidden
from shared.realtime.emitter import serve_locally
from shared.services import downloads as service

LEVEL: AuthLevel = "user"  # as GET /api/downloads/<id>


class DownloadsNamespace(Namespace):  # type: ignore[misc]
    def on_connect(self, auth: Any = None) -> None:
        user = current_user()
        if user is None or not has_role(user.role, LEVEL):
            err = AuthRequired() if user is None else Forbidden()
            raise ConnectionRefusedError(*realtime.refusal(err.body()))

    def on_watch(self, data: Any) -> dict[str, Any]:
        try:
            download_id = realtime.watched(data)
            # Joined before the read: a change in between arrives as an event, not lost.
            join_room(realtime.room(download_id))
            params = service.download_params(download_id)
            row = db().execute(service.DOWNLOAD_STMT, params).mappings().one_or_none()
            answer: dict[str, Any] = service.download_answer(row)
        except AppError as exc:
            if isinstance(data, dict) and isinstance(data.get("download"), int):
                leave_room(realtime.room(data["download"]))
            return exc.body()
        return answer

    def on_unwatch(self, data: Any) -> dict[str, Any] | None:
        try:
            leave_room(realtime.room(realtime.watched(data)))
        except AppError as exc:
            return exc.body()
        return None


class LegacyChannel:
    """The app's Socket.IO server; told of this process's jobs in embedded mode."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        options: dict[str, Any] = {}
        if settings.redis_url:
            options.update(message_queue=settings.redis_url, channel=settings.socketio_channel)
        self.socketio = SocketIO(
            app,
            async_mode="threading",
            transports=["polling"],
            allow_upgrades=False,
            manage_session=False,  # the Flask cookie session, read as it was at connect
            **realtime.server_options(),
            **options,
        )
        self.socketio.on_namespace(DownloadsNamespace(realtime.NAMESPACE))
        # For `figway routes` and the manifest checks, as a view's level is declared.
        declare_auth(self.socketio.sockio_mw, LEVEL)
        if not settings.redis_url:
            serve_locally(self)

    def emit_progress(self, download_id: int, payload: dict[str, Any]) -> None:
        # Thread-safe in threading mode: queues the packet for each client's next poll.
        self.socketio.emit(
            realtime.PROGRESS, payload, to=realtime.room(download_id), namespace=realtime.NAMESPACE
        )


def init_realtime(app: Flask, settings: Settings) -> LegacyChannel:
    channel = LegacyChannel(app, settings)
    app.extensions["figway.realtime"] = channel  # held as long as the app: the weak registry
    return channel
