"""Alembic environment of figway's own state: its tables only (figway_*), whatever else
the database holds (the app's tables, the app's own Alembic version table)."""

from __future__ import annotations

from gateway.state import tables
from shared.config import Settings
from shared.db.migrate import run_environment

run_environment(tables.metadata, owns=tables.owns, default_url=lambda: Settings().state_url)
