"""Health, database and version reports; the same bodies whichever framework serves them."""

from __future__ import annotations

import logging
import platform
import time
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from shared import __version__
from shared.db.engine import unavailable_reason
from shared.errors import Unavailable

API_NAME = "legacy-v1"
DATABASE_DOWN = "Database unavailable"
# The pool methods behind each figure; pools without one (SQLite's) report null.
_POOL_FIGURES = {
    "size": "size",
    "checked_out": "checkedout",
    "overflow": "overflow",
    "checked_in": "checkedin",
}

log = logging.getLogger("figway.health")


class DatabaseDown(Unavailable):
    """The 503 of GET /api/health: the legacy error fields plus the health fields."""

    def __init__(self) -> None:
        super().__init__(DATABASE_DOWN)

    def body(self) -> dict[str, Any]:
        return {
            "status": "unhealthy",
            "database": "disconnected",
            "version": __version__,
            **super().body(),
        }


def version_json() -> dict[str, Any]:
    return {"version": __version__, "api": API_NAME, "python": platform.python_version()}


# The one statement of both reports, executed by each side on its own connection.
PING = text("SELECT 1")


def healthy_json() -> dict[str, Any]:
    """GET /api/health's answer once PING came back."""
    return {"status": "healthy", "database": "connected", "version": __version__}


def database_report(dialect: str, latency_ms: float, pool: Pool) -> dict[str, Any]:
    """GET /api/health/database's answer: PING's round trip, and the pool it came from."""
    return {
        "status": "connected",
        "dialect": dialect,
        "latency_ms": round(latency_ms, 3),
        "pool": pool_json(pool),
    }


def unreachable(exc: SQLAlchemyError, error: Unavailable) -> Unavailable:
    """`error`, after logging why PING failed (the database is down, hung, or the pool has
    no connection to give): the reason goes to the log only, the response must not leak
    hosts or drivers."""
    log.warning("database unreachable: %s", unavailable_reason(exc))
    return error


def since_ms(started: float) -> float:
    """Milliseconds since `started` (a time.perf_counter() reading)."""
    return (time.perf_counter() - started) * 1000


# --- the legacy side's executor: PING on its request's Session -----------------------


def health_json(session: Session) -> dict[str, Any]:
    try:
        session.execute(PING)
    except SQLAlchemyError as exc:
        raise unreachable(exc, DatabaseDown()) from exc
    return healthy_json()


def database_json(session: Session) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        session.execute(PING)
    except SQLAlchemyError as exc:
        raise unreachable(exc, Unavailable(DATABASE_DOWN)) from exc
    latency_ms = since_ms(started)
    engine = _engine(session)
    return database_report(engine.dialect.name, latency_ms, engine.pool)


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def pool_json(pool: Pool) -> dict[str, int | None]:
    figures: dict[str, int | None] = {}
    for name, method in _POOL_FIGURES.items():
        read = getattr(pool, method, None)
        value = read() if callable(read) else None
        figures[name] = value if isinstance(value, int) else None
    return figures
