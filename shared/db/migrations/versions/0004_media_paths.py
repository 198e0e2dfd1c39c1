"""media paths relative to MEDIA_ROOT

Rows written before shared/media/paths.py kept the path a file was written to: absolute, or
(the demo seed's) relative to the working folder, which reads as nothing under MEDIA_ROOT.
Both become relative to MEDIA_ROOT (the server's settings); anything else is left as it is.
Downgrading keeps them: the earlier code reads a path relative to MEDIA_ROOT too.

Revision ID: 0004_media_paths
Revises: 0003_login_throttle
Create Date: 2026-11-27 16:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004_media_paths"
down_revision: str | None = "0003_login_throttle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("videos", "file_path"),
    ("videos", "thumbnail_path"),
    ("downloads", "file_path"),
    ("artists", "thumbnail_path"),
)


def upgrade() -> None:
    bind = op.get_bind()
    root: Path | None = None
    for table_name, column_name in _COLUMNS:
        table = sa.table(table_name, sa.column("id", sa.Integer), sa.column(column_name))
        column = table.c[column_name]
        rows = bind.execute(sa.select(table.c.id, column).where(column.is_not(None))).all()
        if rows and root is None:
            root = _media_root()
        for row_id, stored in rows:
            assert root is not None
            relative = _relative(root, stored)
            if relative is not None and relative != stored:
                bind.execute(
                    sa.update(table).where(table.c.id == row_id).values({column_name: relative})
                )


def downgrade() -> None:
    pass  # relative to MEDIA_ROOT is what the earlier code reads as well


def _media_root() -> Path:
    """The media directory of the server being migrated (looked up only when rows need it:
    Settings may make the development secret)."""
    from shared.config import Settings

    given = context.config.attributes.get("media_dir")
    return Path(given if given is not None else Settings().media_dir).resolve()


def _relative(root: Path, stored: str) -> str | None:
    path = Path(stored)
    if not path.is_absolute():
        if (root / path).exists():
            return None  # already relative to MEDIA_ROOT
        path = Path.cwd() / path  # the demo seed's: relative to the working folder
    full = path.resolve()
    if full == root or not full.is_relative_to(root):
        return None
    return full.relative_to(root).as_posix()
