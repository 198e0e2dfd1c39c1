"""figway's tables: Core tables on a MetaData of their own (never the app's models), every
name prefixed `figway_`. Changed only through a revision in gateway/state/migrations."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

from shared.db.base import MYSQL_TABLE_ARGS, NAMING_CONVENTION, UTCDateTime

PREFIX = "figway_"

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# One route's ownership change: the audit history of flips, rollouts and rollbacks.
changes = Table(
    "figway_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("source", String(16), nullable=False),  # cli or api
    Column("action", String(16), nullable=False),  # flip, rollout, rollback
    Column("route", String(255), nullable=False),
    Column("phase", Integer),
    Column("from_owner", String(16), nullable=False),
    Column("to_owner", String(16), nullable=False),
    Column("reason", Text),
    # `figway history --route` reads one route's rows.
    Index(None, "route"),
    **MYSQL_TABLE_ARGS,
)


def owns(table: str) -> bool:
    return table.startswith(PREFIX)
