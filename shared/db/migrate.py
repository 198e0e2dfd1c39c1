"""Run an Alembic history from code: `figway db upgrade`, the tests, start-up.

Two histories can share one database: the demo app's (shared/db/migrations, version table
`alembic_version`) and figway's own state (gateway/state/migrations, version table
`figway_alembic_version`). Each is a `History`; each environment sees only its own tables
(`run_environment`), so neither one's autogenerate ever proposes dropping the other's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, MetaData, create_engine, pool

from shared.db.engine import sync_url

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class History:
    """One Alembic script directory and the version table it keeps its revision in."""

    scripts: Path
    version_table: str = DEFAULT_VERSION_TABLE

    def config(self, database_url: str) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.scripts))
        config.attributes["database_url"] = database_url
        config.attributes["version_table"] = self.version_table
        return config

    def upgrade(self, database_url: str, revision: str = "head", **attributes: Any) -> None:
        """`attributes`: handed to the revisions (config.attributes)."""
        url = sync_url(database_url)
        if url.get_backend_name() == "sqlite" and url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        config = self.config(database_url)
        config.attributes.update(attributes)
        command.upgrade(config, revision)

    def downgrade(self, database_url: str, revision: str = "base") -> None:
        command.downgrade(self.config(database_url), revision)

    def current(self, database_url: str) -> str | None:
        engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(
                    conn, opts={"version_table": self.version_table}
                )
                return context.get_current_revision()
        finally:
            engine.dispose()

    def head(self) -> str | None:
        return ScriptDirectory.from_config(self.config("sqlite://")).get_current_head()

    def knows(self, revision: str) -> bool:
        """True when `revision` names one of this history's revisions (not head/base)."""
        try:
            return (
                ScriptDirectory.from_config(self.config("sqlite://")).get_revision(revision)
                is not None
            )
        except CommandError:
            return False


DEMO = History(MIGRATIONS)


def upgrade(database_url: str, revision: str = "head", *, media_dir: Path | None = None) -> None:
    """The demo's history. `media_dir`: the MEDIA_ROOT stored media paths are rewritten
    against (0003); the environment's settings otherwise."""
    DEMO.upgrade(
        database_url, revision, **({"media_dir": media_dir} if media_dir is not None else {})
    )


def downgrade(database_url: str, revision: str = "base") -> None:
    DEMO.downgrade(database_url, revision)


def current_revision(database_url: str) -> str | None:
    return DEMO.current(database_url)


def head_revision() -> str | None:
    return DEMO.head()


def run_environment(
    metadata: MetaData, *, owns: Callable[[str], bool], default_url: Callable[[], str]
) -> None:
    """The body of an env.py: migrate the database the caller named (config attribute
    `database_url`, else `default_url()`), recording the revision in the history's version
    table, comparing only the tables `owns` (by name)."""
    from alembic import context

    config = context.config
    url = config.attributes.get("database_url") or default_url()
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table": config.attributes.get("version_table", DEFAULT_VERSION_TABLE),
        "include_name": lambda name, kind, _parent: kind != "table" or owns(str(name)),
        # Batch mode: SQLite cannot ALTER most things, so Alembic copies the table instead.
        "render_as_batch": True,
        "compare_type": True,
    }
    if context.is_offline_mode():
        rendered = sync_url(url).render_as_string(hide_password=False)
        context.configure(url=rendered, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            run(conn)
    finally:
        engine.dispose()
