"""figway's state history: upgrade, downgrade, current, head (shared.db.migrate.History)."""

from __future__ import annotations

from pathlib import Path

from shared.db.migrate import History

VERSION_TABLE = "figway_alembic_version"
STATE = History(Path(__file__).parent / "migrations", VERSION_TABLE)

upgrade = STATE.upgrade
downgrade = STATE.downgrade
current_revision = STATE.current
head_revision = STATE.head
