"""The real-time channel both sides serve: Socket.IO namespace `/downloads`.

The contract, written once (legacy_flask/realtime.py serves it with Flask-SocketIO,
fastapi_app/realtime.py with python-socketio's ASGI server):

- connect: the caller's session cookie or bearer token, at level `user` (as
  GET /api/downloads/<id>); refused with the legacy error body as the error's `data`.
- `watch` {"download": <id>}: the client joins that download's room; the acknowledgement
  is the download's JSON (as GET /api/downloads/<id>) or a legacy error body.
- `unwatch` {"download": <id>}: leaves it.
- `progress` (server to client): the download's JSON after every change, to its room.

Both sides use the same Engine.IO timings: under WSGI a long poll holds a legacy thread
until the next ping, so the ping interval stays well under the legacy request timeout.
"""

from __future__ import annotations

from typing import Any

from shared.errors import BadRequest
from shared.services import valid_id

PATH = "socket.io"  # both servers' default
NAMESPACE = "/downloads"
PROGRESS = "progress"
WATCH = "watch"
UNWATCH = "unwatch"
PING_INTERVAL_S = 20
PING_TIMEOUT_S = 20
# The largest message a client may send; a `watch` is a few bytes.
MAX_MESSAGE_BYTES = 16_384


def room(download_id: int) -> str:
    return f"download:{download_id}"


def watched(data: Any) -> int:
    """The download id of a `watch`/`unwatch` message; BadRequest for anything else."""
    value = data.get("download") if isinstance(data, dict) else None
    # bool is an int to Python, never an id to a client.
    if not isinstance(value, int) or isinstance(value, bool) or not valid_id(value):
        raise BadRequest("'download' must be a download id")
    return value


def refusal(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A refused connection's arguments: the message, and the legacy body as its data."""
    return str(body.get("error", "Connection refused")), body


def server_options() -> dict[str, Any]:
    """Engine.IO options both servers take. Origins: none but the page's own (the
    default), so another site cannot open the channel with a user's cookie."""
    return {
        "ping_interval": PING_INTERVAL_S,
        "ping_timeout": PING_TIMEOUT_S,
        "max_http_buffer_size": MAX_MESSAGE_BYTES,
        "logger": False,
        "engineio_logger": False,
    }
