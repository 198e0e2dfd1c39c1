"""figway_changes: the audit history of ownership changes, in figway's own table

The demo app kept this history in its own schema (manifest_changes, its revision 0002):
when that table is in this database, its rows are copied over once, ids and all, so the
demo's operators keep their history. The old table is left as it was.

Revision ID: figway_0001
Revises:
Create Date: 2026-11-27 23:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.base

revision: str = "figway_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "id, created_at, actor, source, action, route, phase, from_owner, to_owner, reason"
OLD_TABLE = "manifest_changes"


def upgrade() -> None:
    op.create_table(
        "figway_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("route", sa.String(length=255), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=True),
        sa.Column("from_owner", sa.String(length=16), nullable=False),
        sa.Column("to_owner", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_figway_changes")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_index(op.f("ix_figway_changes_route"), "figway_changes", ["route"], unique=False)
    if sa.inspect(op.get_bind()).has_table(OLD_TABLE):
        # Same columns, same types: the rows go over as they are. New ids follow the
        # largest copied (SQLite's rowid, InnoDB's auto-increment both take max + 1).
        op.execute(f"INSERT INTO figway_changes ({COLUMNS}) SELECT {COLUMNS} FROM {OLD_TABLE}")  # noqa: S608 - constants


def downgrade() -> None:
    op.drop_index(op.f("ix_figway_changes_route"), table_name="figway_changes")
    op.drop_table("figway_changes")
