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
    Column("actor", String(80), nullable=False),  # who; `auto` for an auto-rollback
    Column("source", String(16), nullable=False),  # cli, api, or gate (an auto-rollback)
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


# The live state (gateway/live.py): what every gateway of the fleet serves by. One row per
# route whose state was loaded (`figway apply`) or changed since; none at all until then,
# and the manifest file alone decides, as it always did.
routes = Table(
    "figway_routes",
    metadata,
    Column("route", String(255), primary_key=True),  # the manifest key, "GET /api/videos"
    Column("owner", String(16), nullable=False),  # flask or fastapi
    # A canary: the percentage of callers (0-100) sent to fastapi whatever the owner; NULL
    # when the owner serves everyone.
    Column("weight", Integer),
    # serve, or shadow: the owner serves, a sample is replayed against the other side.
    Column("mode", String(16), nullable=False),
    Column("sample", Integer),  # shadow: the percentage of safe requests replayed
    Column("changed_at", UTCDateTime, nullable=False),
    Column("changed_by", String(80), nullable=False),
    **MYSQL_TABLE_ARGS,
)

# One row (id 1): the live state's version, raised in the transaction of every change so
# that a process polling it (one indexed read) knows when to reload `figway_routes`.
live_version = Table(
    "figway_live_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    **MYSQL_TABLE_ARGS,
)


# Shadow traffic's figures (gateway/shadow.py), one row per process and route: each process
# writes its own totals since it started (replacing its rows), so the fleet's figures are
# the sums over processes (`figway shadow-report`, GET /_figway/shadow).
shadow_routes = Table(
    "figway_shadow_routes",
    metadata,
    Column("process", String(120), primary_key=True),  # host:pid:start
    Column("route", String(255), primary_key=True),
    Column("compared", Integer, nullable=False),  # replayed and compared
    Column("matched", Integer, nullable=False),  # no difference beyond the route's noise
    Column("differing", Integer, nullable=False),
    Column("dropped", Integer, nullable=False),  # the replay queue was full
    Column("skipped", Integer, nullable=False),  # a body past the size compared
    Column("errors", Integer, nullable=False),  # a replay failed or timed out
    Column("updated_at", UTCDateTime, nullable=False),
    **MYSQL_TABLE_ARGS,
)

# A field of a shadowed route's answers (`status`, `header location`, `$.items[0].id`): how
# often the other side's answer differed there, how often the owner's second answer did
# (noise), and the first difference with an example.
shadow_fields = Table(
    "figway_shadow_fields",
    metadata,
    Column("process", String(120), primary_key=True),
    Column("route", String(255), primary_key=True),
    Column("field", String(255), primary_key=True),
    Column("differing", Integer, nullable=False),
    Column("noise", Integer, nullable=False),
    Column("example_method", String(16)),
    Column("example_target", String(512)),  # path and query
    Column("example_owner", String(512)),  # the owner's value, truncated
    Column("example_other", String(512)),
    Column("example_at", UTCDateTime),
    **MYSQL_TABLE_ARGS,
)


def owns(table: str) -> bool:
    return table.startswith(PREFIX)
