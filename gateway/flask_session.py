"""The Flask session of a request, for your own FastAPI app behind the gateway.

When the legacy app given to `create_gateway` is a Flask app, the gateway reads its
session settings (SECRET_KEY, SECRET_KEY_FALLBACKS, SESSION_COOKIE_NAME,
PERMANENT_SESSION_LIFETIME, the SESSION_COOKIE_* flags) from `app.config` and hands every
request the codec for that cookie. A FastAPI route then sees what the Flask side put in
`flask.session`, with no key passed by hand::

    from fastapi import FastAPI
    from gateway.flask_session import FlaskSessionDep

    api = FastAPI()

    @api.get("/api/me")
    async def me(session: FlaskSessionDep) -> dict[str, object]:
        return {"user_id": session.get("user_id"), "flashes": session.flashes()}

    gateway = create_gateway(settings, legacy=flask_app, modern=api)

The session is read-only here: a route that must change it sets the cookie itself with
`flask_session_codec(request).set_cookie(...)`. Flask re-signs a permanent session on
every response, so that a user active for longer than PERMANENT_SESSION_LIFETIME stays
logged in; for visits to FastAPI routes to count too, add the same refresh to your app:
`api.add_middleware(SlidingFlaskSession)` (it takes the gateway's codec).

Outside the gateway (a FastAPI app run or tested on its own) set
`api.state.flask_session_codec = SessionCookieCodec.from_flask_app(flask_app)` (or a codec
built from settings): the dependency and the middleware use it. Nothing here imports
Flask.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from shared.auth.session_cookie import SCOPE_KEY, SessionCookieCodec, codec_in_scope
from shared.web.sliding_session import SlidingSession as SlidingFlaskSession

__all__ = [
    "SCOPE_KEY",
    "FlaskSession",
    "FlaskSessionDep",
    "SlidingFlaskSession",
    "flask_session",
    "flask_session_codec",
]
FLASHES_KEY = "_flashes"  # where flask.flash keeps pending messages: [(category, message)]


class FlaskSession(Mapping[str, Any]):
    """A read-only view of a request's Flask session: a Mapping (`session["user_id"]`,
    `.get`, `in`), plus `permanent` and the pending `flashes()`. Empty when the request
    has no cookie, or a forged, expired or foreign one (as in Flask)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FlaskSession({self._data!r})"

    @property
    def permanent(self) -> bool:
        """session.permanent on the Flask side."""
        return bool(self._data.get("_permanent", False))

    def flashes(
        self, with_categories: bool = False, category_filter: tuple[str, ...] = ()
    ) -> list[Any]:
        """The flashed messages still pending, as flask.get_flashed_messages returns them
        (messages, or (category, message) pairs), without consuming them: they are left
        for the Flask side's next page."""
        pending = self._data.get(FLASHES_KEY) or []
        pairs = [tuple(item) for item in pending if isinstance(item, tuple | list)]
        if category_filter:
            pairs = [p for p in pairs if p[0] in category_filter]
        if with_categories:
            return pairs
        return [p[1] for p in pairs]


def flask_session_codec(connection: HTTPConnection) -> SessionCookieCodec:
    """The codec of the Flask session cookie for this request: the gateway's (built from
    the legacy Flask app), else `app.state.flask_session_codec`. RuntimeError when there
    is neither (the legacy app is no Flask app, or has no SECRET_KEY)."""
    codec = codec_in_scope(connection.scope)
    if codec is None:
        raise RuntimeError(
            "no Flask session here: the gateway's legacy app is no Flask app with a "
            "SECRET_KEY, and app.state.flask_session_codec is not set"
        )
    return codec


async def flask_session(connection: HTTPConnection) -> FlaskSession:
    """FastAPI dependency: the Flask session of this request (read-only). A coroutine,
    though it awaits nothing: FastAPI would run a plain function in a worker thread."""
    codec = flask_session_codec(connection)
    return FlaskSession(codec.loads(connection.cookies.get(codec.name)))


FlaskSessionDep = Annotated[FlaskSession, Depends(flask_session)]
