"""The Flask-free run (FIGWAY_TEST_FLASK_FREE=1): the legacy suite against the FastAPI app
served alone, in an environment without Flask or werkzeug (the end of the migration).

What the `flask_app` and `app` fixtures give the suite there: an object with the parts of
the Flask app the HTTP-level tests use (`test_client()`, `extensions["figway"]` with the
settings, the database engine and sessions), backed by `create_fastapi_app` on an ASGI
server of the tests' own (tests/asgi_client.py). Nothing here imports Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fastapi_app import create_fastapi_app
from shared.config import Settings
from shared.db.engine import create_sync_engine, sync_sessionmaker
from tests.asgi_client import AsgiServer, Client
from tests.modes import MODERN_KEY


@dataclass
class Parts:
    """What `app.extensions["figway"]` holds for the suite (legacy_flask's Legacy: the
    settings, the engine, its sessions; `parts` stays empty, the twins hold theirs)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    parts: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.engine.dispose()


class FastAPIAlone:
    """The FastAPI app as the suite's `app`: started on first use, as a server would."""

    def __init__(self, settings: Settings) -> None:
        engine = create_sync_engine(settings)
        self.figway = Parts(settings, engine, sync_sessionmaker(engine))
        self.modern = create_fastapi_app(settings)
        self.extensions: dict[str, Any] = {"figway": self.figway, MODERN_KEY: self.modern}
        self._server: AsgiServer | None = None
        self.requests = 0

    @property
    def server(self) -> AsgiServer:
        if self._server is None:
            self._server = AsgiServer(self.modern)
        return self._server

    def test_client(self, use_cookies: bool = True) -> Client:
        return Client(self.server, self, use_cookies=use_cookies, on_request=self._count)

    def _count(self) -> None:
        self.requests += 1

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
        self.figway.close()
