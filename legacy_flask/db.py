"""One sync session per request, the Flask tutorial's get_db(), rolled back unless committed."""

from __future__ import annotations

from flask import Flask, g
from sqlalchemy.orm import Session

from legacy_flask.extensions import legacy
from shared.db.engine import end_session


def db() -> Session:
    if "db" not in g:
        g.db = legacy().sessions()
    session: Session = g.db
    return session


def _close_db(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        # Never raise here: Flask runs teardowns after the error handlers, so an error
        # would escape as the server's plain-text 500 (and lose the answer already made).
        end_session(session)


def init_db(app: Flask) -> None:
    app.teardown_appcontext(_close_db)
