"""figway_routes and figway_live_version: the live state every gateway of a fleet serves by

Revision ID: figway_0002
Revises: figway_0001
Create Date: 2026-11-28 10:20:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import shared.db.base

revision: str = "figway_0002"
down_revision: str | None = "figway_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


MYSQL: dict[str, Any] = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mysql_engine": "InnoDB",
}


def upgrade() -> None:
    op.create_table(
        "figway_routes",
        sa.Column("route", sa.String(length=255), nullable=False),
        sa.Column("owner", sa.String(length=16), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("sample", sa.Integer(), nullable=True),
        sa.Column("changed_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("route", name=op.f("pk_figway_routes")),
        **MYSQL,
    )
    op.create_table(
        "figway_live_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_figway_live_version")),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("figway_live_version")
    op.drop_table("figway_routes")
