"""Sync (Flask) and async (FastAPI) engines derived from the one DATABASE_URL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from shared import tracing
from shared.config import Settings
from shared.db import dialects as _dialects  # noqa: F401 - registers the async dialects

log = logging.getLogger("figway.db")
P = ParamSpec("P")
T = TypeVar("T")

_SYNC_DRIVERS = {"sqlite": "sqlite", "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}
# asyncmy and aiosqlite, in autocommit with COMMIT/ROLLBACK only in a transaction
# (shared.db.dialects: why, and how writes still get their transaction).
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+figway_aiosqlite",
    "mysql": "mysql+figway_asyncmy",
    "mariadb": "mysql+figway_asyncmy",
}


def _with_driver(url: str | URL, drivers: dict[str, str]) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or mysql/mariadb")
    parsed = parsed.set(drivername=drivers[backend])
    if backend in ("mysql", "mariadb"):
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def sync_url(url: str | URL) -> URL:
    return _with_driver(url, _SYNC_DRIVERS)


def async_url(url: str | URL) -> URL:
    return _with_driver(url, _ASYNC_DRIVERS)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _engine_options(url: URL, settings: Settings) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        # One file shared by threads; the busy timeout rides out short write locks, and no
        # longer than any other database reply may take.
        options: dict[str, Any] = {
            "connect_args": {"check_same_thread": False, "timeout": settings.db_read_timeout_s}
        }
        if not _in_memory(url):  # a memory database has one connection, and no pool wait
            options["pool_timeout"] = settings.db_pool_timeout_s
        return options
    # No pre-ping: it cost a round trip on every checkout (measured: one ping per request).
    # What it guarded against is covered without it: a connection older than pool_recycle
    # (below the server's wait_timeout, 8 hours by default) is replaced at checkout with no
    # round trip; one idle for a while is pinged first (_ping_after_idle); and one the
    # server dropped while busy fails its statement with a disconnect error, which is a 503
    # (is_unavailable) and invalidates the pool, so the next checkout reconnects.
    # The pool's reset on return stays: Connection.close() ends its own transaction and
    # tells the pool, which then skips the reset (measured: no second ROLLBACK); the
    # reset only runs for a connection returned outside a transaction, or whose rollback
    # failed without being recognised as lost, where it is the safety net.
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_pool_size,
        "pool_recycle": 3600,
        "pool_timeout": settings.db_pool_timeout_s,
        "connect_args": _mysql_timeouts(url, settings),
    }


def _mysql_timeouts(url: URL, settings: Settings) -> dict[str, float]:
    """Both drivers bound the TCP connect, and every read (handshake included) at the
    socket: a hung server fails the statement with 2013 (lost connection), a 503."""
    timeouts = {
        "connect_timeout": settings.db_connect_timeout_s,
        "read_timeout": settings.db_read_timeout_s,
    }
    # asyncmy writes into the event loop's transport, which never blocks; PyMySQL's
    # blocking send can, once the server stops reading.
    if url.get_driver_name() == "pymysql":
        timeouts["write_timeout"] = settings.db_read_timeout_s
    return timeouts


def _in_memory(url: URL) -> bool:
    return not url.database or url.database == ":memory:"


def _prepare_sqlite_path(url: URL) -> None:
    if url.get_backend_name() == "sqlite" and url.database and not _in_memory(url):
        from pathlib import Path

        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(engine: Engine, busy_timeout_s: float) -> None:
    busy_timeout_ms = round(busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()
        # SQLite's own lower() folds ASCII only; MariaDB's folds all of Unicode. Case-blind
        # search must find the same rows on both, so SQLite gets Python's.
        dbapi_conn.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class _LostConnectionInOneLine(logging.Filter):
    """The pool logs a failed reset of a connection coming back to it (the rollback on a
    lost or hung connection) with its whole traceback: during an outage, one per request,
    each after the line the request logged. A lost connection is news, not a bug: one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _driver_code(exc) in _MYSQL_UNAVAILABLE:
            record.msg, record.args = "%s: %s", (record.getMessage(), unavailable_reason(exc))
            record.exc_info = None
        return True


_ONE_LINE = _LostConnectionInOneLine()


def _pool_logs_one_line(engine: Engine) -> None:
    # The pool's logger is its class's, shared by its engines; addFilter adds it once.
    logger = engine.pool.logger
    (logger if isinstance(logger, logging.Logger) else logger.logger).addFilter(_ONE_LINE)


def _ping_after_idle(engine: Engine, idle_s: float) -> None:
    """Ping a connection before reuse only when it has been idle longer than `idle_s`: a
    server restarted (or a firewall that forgot the connection) while the pool was quiet
    costs no request, and a busy pool pays no round trip."""

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # whatever the driver raised, the connection is unusable
            # The pool reconnects and tries again; the others idled as long: reconnect them
            # too, at their next checkout.
            raise InvalidatePoolError() from exc


def create_sync_engine(settings: Settings) -> Engine:
    url = sync_url(settings.database_url)
    _prepare_sqlite_path(url)
    engine = create_engine(url, **_engine_options(url, settings))
    if url.get_backend_name() == "sqlite":
        _sqlite_pragmas(engine, settings.db_read_timeout_s)
    else:
        _pool_logs_one_line(engine)
        _ping_after_idle(engine, settings.db_ping_after_idle_s)
    _trace_statements(engine, settings)
    return engine


def _trace_statements(engine: Engine, settings: Settings) -> None:
    """A span per statement when tracing is on; no listener at all when off."""
    tracer = tracing.tracer_for(settings)
    if tracer is not None:
        from shared.tracing.spans import trace_statements

        trace_statements(engine, tracer)


def create_async_engine(settings: Settings) -> AsyncEngine:
    url = async_url(settings.database_url)
    _prepare_sqlite_path(url)
    engine = _create_async_engine(
        url, isolation_level="AUTOCOMMIT", **_engine_options(url, settings)
    )
    if url.get_backend_name() == "sqlite":
        _sqlite_pragmas(engine.sync_engine, settings.db_read_timeout_s)
    else:
        _asyncmy_connect_errors(engine.sync_engine)
        _pool_logs_one_line(engine.sync_engine)
        _ping_after_idle(engine.sync_engine, settings.db_ping_after_idle_s)
    _trace_statements(engine.sync_engine, settings)
    return engine


def _asyncmy_connect_errors(engine: Engine) -> None:
    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except RuntimeError as exc:
            # asyncmy raises a bare RuntimeError when the server resets a connection it
            # has just accepted (the transport is gone before the socket options are set);
            # it is the driver's "lost connection" (2013), a database down, not a bug.
            raise dialect.loaded_dbapi.OperationalError(
                2013, f"Lost connection to MySQL server at connect ({exc})"
            ) from exc


def sync_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


class LazySyncSessions:
    """Sync sessions for job threads, on an engine made at the first call: after a worker
    process forks, never before, and never for a process that runs no job."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None

    def __call__(self) -> Session:
        with self._lock:
            if self._factory is None:
                self._engine = create_sync_engine(self._settings)
                self._factory = sync_sessionmaker(self._engine)
            factory = self._factory
        return factory()

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = self._factory = None


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def end_session(session: Session) -> None:
    """Close a request's session (rolling back what it did not commit). A connection lost
    by then costs only itself: it leaves the pool, with one log line, and the answer
    already made stands (it committed, or had nothing to commit)."""
    try:
        session.close()
    except SQLAlchemyError as exc:
        _lost_at_the_end(exc)
        session.invalidate()


async def end_async_session(session: AsyncSession) -> None:
    """end_session, awaited."""
    try:
        await session.close()
    except SQLAlchemyError as exc:
        _lost_at_the_end(exc)
        await session.invalidate()


async def end_connection(connection: AsyncConnection) -> None:
    """Close a request's connection, as end_session closes a session: a rollback of what
    was not committed, and a lost connection costs one log line (the driver's disconnect
    error has invalidated it, so it leaves the pool)."""
    try:
        await connection.close()
    except SQLAlchemyError as exc:
        _lost_at_the_end(exc)


def _lost_at_the_end(exc: SQLAlchemyError) -> None:
    log.warning("database connection lost at the end of a request: %s", unavailable_reason(exc))


# Client errors that mean "the server is not there" (MySQL/MariaDB): can't connect,
# gone away, lost connection, too many connections, server shutting down.
_MYSQL_UNAVAILABLE = {1040, 1053, 2002, 2003, 2005, 2006, 2013}
# A lock race the transaction lost (deadlock, lock wait timeout): InnoDB undid its work,
# and the same work run again from the start will succeed.
_MYSQL_LOCK_RACE = {1205, 1213}
_SQLITE_UNAVAILABLE = ("unable to open database file", "database is locked", "disk i/o error")
# How many times a write runs before its lock race is the client's 500.
LOCK_RACE_ATTEMPTS = 5


def _mysql_code(exc: DBAPIError) -> int | None:
    return _driver_code(exc.orig) if exc.orig is not None else None


def _driver_code(exc: BaseException) -> int | None:
    """A MySQL driver error's number: its first argument."""
    code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


def is_unavailable(exc: BaseException) -> bool:
    """True when a database error means the database is down, not that a query is wrong.

    Down is a 503 (retry later); a wrong query or a missing table is a bug, a 500. No free
    pooled connection within the pool timeout is down too: they are all held by a server
    that stopped answering (or by more requests than it can serve).
    """
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or _mysql_code(exc) in _MYSQL_UNAVAILABLE:
        return True
    return any(text in str(exc.orig).lower() for text in _SQLITE_UNAVAILABLE)


def is_lock_race(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and _mysql_code(exc) in _MYSQL_LOCK_RACE


def unavailable_reason(exc: BaseException) -> str:
    """Why, for one log line: the driver's message, without the statement or parameters."""
    orig = getattr(exc, "orig", None) or exc
    return f"{type(exc).__name__}: {orig}"
