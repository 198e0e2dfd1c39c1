"""The Alembic histories, the demo's and figway's own state (gateway/state): upgrade on an
empty database, downgrade to base, no drift, each beside the other in one database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, column, create_engine, table, text
from sqlalchemy.orm import Session

from gateway import changes as ops
from gateway.state import migrate as state
from gateway.state import tables as state_tables
from shared.db.base import Base
from shared.db.engine import sync_url
from shared.db.migrate import current_revision, downgrade, head_revision, upgrade
from tests.conftest import table_names

# figway's own tables at head, its version table among them.
STATE_TABLES = {
    "figway_changes",
    "figway_routes",
    "figway_live_version",
    "figway_shadow_routes",
    "figway_shadow_fields",
    "figway_alembic_version",
}


def test_upgrade_creates_every_table_and_downgrade_removes_them(empty_database):
    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision()
    assert {t.name for t in Base.metadata.sorted_tables} <= table_names(empty_database)
    downgrade(empty_database)
    assert table_names(empty_database) <= {"alembic_version"}
    upgrade(empty_database)  # and back up again: the downgrade left nothing behind
    assert current_revision(empty_database) == head_revision()


def _drift(
    url: str, metadata: MetaData, owns: Callable[[str], bool], version_table: str
) -> list[object]:
    """What autogenerate would change, as the history's own env.py compares."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            opts = {
                "compare_type": True,
                "version_table": version_table,
                "include_name": lambda name, kind, _parent: kind != "table" or owns(name),
            }
            return list(compare_metadata(MigrationContext.configure(conn, opts=opts), metadata))
    finally:
        engine.dispose()


def test_models_and_migrations_do_not_drift(empty_database):
    # Both histories in one database: each compares its own tables only.
    state.upgrade(empty_database)
    upgrade(empty_database)
    demo = _drift(
        empty_database, Base.metadata, lambda n: not state_tables.owns(n), "alembic_version"
    )
    assert demo == []
    ours = _drift(empty_database, state_tables.metadata, state_tables.owns, state.VERSION_TABLE)
    assert ours == []


def test_figways_state_upgrades_downgrades_and_says_where_it_is(empty_database):
    assert state.current_revision(empty_database) is None
    state.upgrade(empty_database)
    assert state.current_revision(empty_database) == state.head_revision() == "figway_0003"
    # Its own tables only, its own version table: none of the demo's.
    assert table_names(empty_database) == STATE_TABLES
    assert current_revision(empty_database) is None
    state.downgrade(empty_database)
    assert table_names(empty_database) == {"figway_alembic_version"}
    assert state.current_revision(empty_database) is None
    state.upgrade(empty_database)
    assert state.current_revision(empty_database) == state.head_revision()


def test_the_two_histories_share_a_database_and_leave_each_other_alone(empty_database):
    state.upgrade(empty_database)
    upgrade(empty_database)
    demo_tables = {t.name for t in Base.metadata.sorted_tables}
    assert demo_tables | {"figway_changes"} <= table_names(empty_database)
    assert (current_revision(empty_database), state.current_revision(empty_database)) == (
        head_revision(),
        state.head_revision(),
    )
    downgrade(empty_database)
    assert table_names(empty_database) == {"alembic_version", *STATE_TABLES}
    assert state.current_revision(empty_database) == state.head_revision()
    upgrade(empty_database)
    state.downgrade(empty_database)
    assert demo_tables <= table_names(empty_database)
    assert "figway_changes" not in table_names(empty_database)
    assert current_revision(empty_database) == head_revision()


OLD_ROWS = [
    {
        "id": 1,
        "created_at": "2026-01-02 03:04:05",
        "actor": "ann",
        "source": "cli",
        "action": "flip",
        "route": "GET /api/version",
        "phase": 1,
        "from_owner": "flask",
        "to_owner": "fastapi",
        "reason": None,
    },
    {
        "id": 2,
        "created_at": "2026-01-03 04:05:06",
        "actor": "bob",
        "source": "api",
        "action": "rollback",
        "route": "GET /api/version",
        "phase": 1,
        "from_owner": "fastapi",
        "to_owner": "flask",
        "reason": "too slow",
    },
]


def test_the_demos_old_history_is_copied_once_into_figways_table(empty_database):
    upgrade(empty_database)  # the demo's schema, with its old manifest_changes table
    old = table("manifest_changes", *(column(name) for name in OLD_ROWS[0]))
    engine = create_engine(sync_url(empty_database))
    try:
        with engine.begin() as conn:
            conn.execute(old.insert(), OLD_ROWS)
        state.upgrade(empty_database)
        with Session(engine) as session:
            history = ops.history(session)
            assert [(h["id"], h["at"], h["actor"], h["to"], h["reason"]) for h in history] == [
                (2, "2026-01-03T04:05:06Z", "bob", "flask", "too slow"),
                (1, "2026-01-02T03:04:05Z", "ann", "fastapi", None),
            ]
            # New rows follow the copied ones.
            change = ops.Change("GET /api/health", 1, "flask", "fastapi")
            ops.record(session, [change], actor="cy", source="cli", action="flip", reason=None)
            session.commit()
            assert [h["id"] for h in ops.history(session)] == [3, 2, 1]
        with engine.connect() as conn:  # the old table is left as it was
            assert conn.execute(text("SELECT COUNT(*) FROM manifest_changes")).scalar() == 2
    finally:
        engine.dispose()


@pytest.mark.mariadb
def test_mariadb_tables_are_utf8mb4(empty_mariadb):
    state.upgrade(empty_mariadb)
    upgrade(empty_mariadb)
    engine = create_engine(sync_url(empty_mariadb))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT table_name, table_collation FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() "
                    "AND table_name NOT IN ('alembic_version', 'figway_alembic_version')"
                )
            ).all()
    finally:
        engine.dispose()
    assert rows and all(collation == "utf8mb4_bin" for _, collation in rows), rows


def test_media_paths_stored_the_old_way_become_relative_to_the_media_root(
    empty_database, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "var" / "media"
    upgrade(empty_database, "0002")
    stored = {
        1: "var/media/videos/1/demo.mp4",  # the old seed's: relative to the working folder
        2: str(root / "videos" / "2" / "7.mp4"),  # a download's: absolute
        3: "videos/3/8.mp4",  # already right
        4: "/elsewhere/x.mp4",  # outside: left for the reader to refuse
    }
    for name in ("videos/1/demo.mp4", "videos/3/8.mp4"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    engine = create_engine(sync_url(empty_database))
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO artists (id, name, genres, monitored, created_at, updated_at)"
                    " VALUES (1, 'A', '[]', 1, '2026-01-01', '2026-01-01')"
                )
            )
            for video_id, path in stored.items():
                conn.execute(
                    text(
                        "INSERT INTO videos (id, artist_id, title, status, file_path, created_at,"
                        " updated_at) VALUES (:id, 1, :title, 'downloaded', :path, '2026-01-01',"
                        " '2026-01-01')"
                    ),
                    {"id": video_id, "title": f"T{video_id}", "path": path},
                )
            conn.execute(
                text("UPDATE artists SET thumbnail_path = :path WHERE id = 1"),
                {"path": str(root / "thumbnails" / "artists" / "1.jpg")},
            )
        upgrade(empty_database, media_dir=Path("var/media"))
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, file_path FROM videos")).all()
            paths = {row_id: path for row_id, path in rows}
            image = conn.execute(text("SELECT thumbnail_path FROM artists")).scalar()
    finally:
        engine.dispose()
    assert paths == {
        1: "videos/1/demo.mp4",
        2: "videos/2/7.mp4",
        3: "videos/3/8.mp4",
        4: "/elsewhere/x.mp4",
    }
    assert image == "thumbnails/artists/1.jpg"
