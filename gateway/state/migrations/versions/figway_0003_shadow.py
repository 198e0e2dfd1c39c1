"""figway_shadow_routes and figway_shadow_fields: shadow traffic's figures, per process

Revision ID: figway_0003
Revises: figway_0002
Create Date: 2026-11-28 10:50:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import shared.db.base

revision: str = "figway_0003"
down_revision: str | None = "figway_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


MYSQL: dict[str, Any] = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mysql_engine": "InnoDB",
}


def upgrade() -> None:
    op.create_table(
        "figway_shadow_routes",
        sa.Column("process", sa.String(length=120), nullable=False),
        sa.Column("route", sa.String(length=255), nullable=False),
        sa.Column("compared", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("differing", sa.Integer(), nullable=False),
        sa.Column("dropped", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("updated_at", shared.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("process", "route", name=op.f("pk_figway_shadow_routes")),
        **MYSQL,
    )
    op.create_table(
        "figway_shadow_fields",
        sa.Column("process", sa.String(length=120), nullable=False),
        sa.Column("route", sa.String(length=255), nullable=False),
        sa.Column("field", sa.String(length=255), nullable=False),
        sa.Column("differing", sa.Integer(), nullable=False),
        sa.Column("noise", sa.Integer(), nullable=False),
        sa.Column("example_method", sa.String(length=16), nullable=True),
        sa.Column("example_target", sa.String(length=512), nullable=True),
        sa.Column("example_owner", sa.String(length=512), nullable=True),
        sa.Column("example_other", sa.String(length=512), nullable=True),
        sa.Column("example_at", shared.db.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("process", "route", "field", name=op.f("pk_figway_shadow_fields")),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("figway_shadow_fields")
    op.drop_table("figway_shadow_routes")
