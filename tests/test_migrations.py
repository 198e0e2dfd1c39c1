"""The Alembic history: upgrade on an empty database, downgrade to base, no drift."""

from __future__ import annotations

from collections.abc import Iterator

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
