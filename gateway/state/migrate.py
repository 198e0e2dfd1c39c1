"""figway's state history: upgrade, downgrade, current, head (shared.db.migrate.History)."""

from __future__ import annotations

from pathlib import Path

from shared.db.migrate import History

VERSION_TABLE = "figway_alembic_version"
STATE = History(Path(__file__).parent / "migrations", VERSION_TABLE)


def upgrade(database_url: str, revision: str = "head") -> None:
    STATE.upgrade(database_url, revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    STATE.downgrade(database_url, revision)


def current_revision(database_url: str) -> str | None:
    return STATE.current(database_url)


def head_revision() -> str | None:
    return STATE.head()
