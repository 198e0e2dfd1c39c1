"""figway's own state, apart from the app it migrates: tables of its own (prefixed
`figway_`, gateway/state/tables.py) made by its own Alembic history (gateway/state/
migrations, version table `figway_alembic_version`, so it shares a database with the app's
own Alembic), in the database `Settings.state_url` names: FIGWAY_STATE_DATABASE_URL, else
the app's DATABASE_URL, else figway's SQLite file under var/.

Today it holds the audit history of ownership changes (figway_changes); written by
gateway.changes.change(), read by its history().
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.config import Settings

UPGRADE = "figway db upgrade"


def upgrade_command(app_spec: str | None = None) -> str:
    """The command that makes (or brings up to date) the state tables of an app."""
    return UPGRADE if app_spec is None else f"{UPGRADE} --app {app_spec}"


def state_settings(settings: Settings, pool_size: int) -> Settings:
    """The settings of an engine on the state database (shared.db.engine's factories read
    `database_url`), with a pool of `pool_size`: an operator's tool, off the serving path."""
    return settings.model_copy(
        update={"database_url": settings.state_url, "db_pool_size": pool_size}
    )
