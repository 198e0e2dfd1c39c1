"""Alembic environment of the demo app: the URL comes from Settings (or the caller), never
from alembic.ini. figway's own tables (figway_*, gateway/state) may share the database:
they are another history's, never compared here."""

from __future__ import annotations

from shared.config import Settings
from shared.db import models
from shared.db.migrate import run_environment

STATE_TABLES = "figway_"

run_environment(
    models.Base.metadata,
    owns=lambda table: not table.startswith(STATE_TABLES),
    default_url=lambda: Settings().database_url,
)
