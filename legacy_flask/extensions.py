"""What the legacy app holds for its lifetime, attached once by create_app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings


@dataclass
class Legacy:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # Further long-lived pieces (the metadata client, the download runner) by name.
    parts: dict[str, Any] = field(default_factory=dict)

    def init_app(self, app: Flask) -> None:
        app.extensions["figway"] = self

    def close(self) -> None:
        """Release what the app holds: clients with a close(), then the engine's pool."""
        for part in self.parts.values():
            close = getattr(part, "close", None)
            if callable(close):
                close()
        self.engine.dispose()


def legacy() -> Legacy:
    ext = current_app.extensions["figway"]
    assert isinstance(ext, Legacy)
    return ext
