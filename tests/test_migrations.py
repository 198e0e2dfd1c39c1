"""The Alembic history: upgrade on an empty database, downgrade to base, no drift."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from shared.db.base import Base
from shared.db.engine import sync_url
from shared.db.migrate import current_revision, downgrade, head_revision, upgrade
from shared.db.scratch import scratch_database
from tests.conftest import MARIADB_SERVER_URL, service_missing


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def empty_database(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    yield request.getfixturevalue("empty_mariadb")


@pytest.fixture
def empty_mariadb() -> Iterator[str]:
    if not MARIADB_SERVER_URL:
        service_missing("MariaDB (FIGWAY_TEST_DATABASE_URL)")
    with scratch_database(MARIADB_SERVER_URL, "figway_mig") as url:
        yield url


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_and_downgrade_removes_them(empty_database):
    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision()
    assert {t.name for t in Base.metadata.sorted_tables} <= _tables(empty_database)
    downgrade(empty_database)
    assert _tables(empty_database) <= {"alembic_version"}
    upgrade(empty_database)  # and back up again: the downgrade left nothing behind
    assert current_revision(empty_database) == head_revision()


def test_models_and_migrations_do_not_drift(empty_database):
    upgrade(empty_database)
    engine = create_engine(sync_url(empty_database))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], diff


@pytest.mark.mariadb
def test_mariadb_tables_are_utf8mb4(empty_mariadb):
    upgrade(empty_mariadb)
    engine = create_engine(sync_url(empty_mariadb))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT table_name, table_collation FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_name != 'alembic_version'"
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
