"""The twins' async dialects: connections in autocommit, transactions only for writes.

Why: in the drivers' default mode the first statement of a request opens a transaction,
read-only or not, and the connection's return to the pool must end it: a ROLLBACK round
trip on every read, measured at a fifth of an authenticated twin's CPU per request. In
autocommit a read opens nothing. Writes still run in a transaction: a plan begins one
before its first write or locking read (shared.db.plan.arun), ended by the handler's commit, by the
plan runner's rollback before a retry, or by the connection's close.

What makes that safe is the pair of overrides below: COMMIT and ROLLBACK reach the server
only while it reports a transaction open (MariaDB's SERVER_STATUS_IN_TRANS flag, from the
last reply; SQLite's own flag), so a close after a failed write still rolls it back, and a
close after reads costs nothing. The sync engine (the legacy side) keeps the drivers'
default mode: its sessions are what the Flask app always ran on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.mysql.asyncmy import MySQLDialect_asyncmy
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

_MYSQL_IN_TRANS = 0x0001  # SERVER_STATUS_IN_TRANS, in every OK and EOF packet's status


def in_transaction(driver_connection: Any) -> bool | None:
    """Whether the server has a transaction open on this driver connection (asyncmy or
    aiosqlite), from what the driver already knows: no round trip. None when unknown."""
    status = getattr(driver_connection, "server_status", None)
    if isinstance(status, int):
        return bool(status & _MYSQL_IN_TRANS)
    flag = getattr(driver_connection, "in_transaction", None)
    if isinstance(flag, bool):
        return flag
    return None


def _needs_ending(dbapi_connection: Any) -> bool:
    # The pool hands the dialect its proxied connection, which knows the driver's; a bare
    # DBAPI connection (unknown state) is ended the ordinary way.
    driver = getattr(dbapi_connection, "driver_connection", None)
    return in_transaction(driver) is not False


class _EndsOnlyOpenTransactions:
    def do_rollback(self, dbapi_connection: Any) -> None:
        if _needs_ending(dbapi_connection):
            super().do_rollback(dbapi_connection)  # type: ignore[misc]

    def do_commit(self, dbapi_connection: Any) -> None:
        if _needs_ending(dbapi_connection):
            super().do_commit(dbapi_connection)  # type: ignore[misc]


class AsyncmyAutocommit(_EndsOnlyOpenTransactions, MySQLDialect_asyncmy):
    supports_statement_cache = True


class AiosqliteAutocommit(_EndsOnlyOpenTransactions, SQLiteDialect_aiosqlite):
    supports_statement_cache = True


# Reached as "mysql+figway_asyncmy" and "sqlite+figway_aiosqlite" (shared.db.engine).
registry.register("mysql.figway_asyncmy", __name__, "AsyncmyAutocommit")
registry.register("sqlite.figway_aiosqlite", __name__, "AiosqliteAutocommit")
