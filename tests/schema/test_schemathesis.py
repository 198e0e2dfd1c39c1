"""Schemathesis against every route the manifest gives to FastAPI, called through the gateway.

The schema is the FastAPI app's /openapi.json (a test below proves the gateway serves that
very document); the operations kept are those the committed manifest
(migration_status.yaml) routes to FastAPI. Each is called through the gateway (ASGI, in
this process), on MariaDB, once as an admin and once as an ordinary user (bearer tokens),
with a bounded number of examples from a fixed seed, derandomized: the same requests on
every run. Every answer must be: no server error, a documented status, a documented
content type, and JSON that matches the documented schema.

Every operation starts from the same library, restored before its first example: the
demo library of `figway seed-demo` (its artists and videos are the fake provider's, so the
provider routes, served here by the fake provider, find them; three videos have a real
file to stream), a few users, settings, downloads and playlists. Writes are included: the
database is this run's own. Half the generated path parameters are moved onto these rows
(`toward_rows`), so reads find data and writes change it.

CI runs this folder as its own stage (.ci/run); a plain `make test` runs it in its first
pass only: the second (FIGWAY_TEST_THROUGH_GATEWAY=1) keeps tests that use the `app`
fixture, and this one goes through the gateway already.

Reproduce a failure with the curl line Schemathesis prints (the token is filtered: make
one with shared.auth.tokens.issue_token), or rerun one operation:
`pytest tests/schema -k "test_as_user and POST /api/playlists"`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, select, text

from fastapi_app import create_fastapi_app
from gateway import manifest as mf
from gateway.app import Gateway
from gateway.asgi import create_figway
from shared.auth.passwords import hash_password
from shared.auth.tokens import issue_token
from shared.config import Settings
from shared.db.base import Base
from shared.db.engine import create_sync_engine, sync_sessionmaker
from shared.db.models import Download, Playlist, Setting, User
from shared.demo import seed_demo
from shared.media.images import VIDEO_THUMBNAIL_SIZES
from tests.conftest import TEST_SCRYPT_N
from tests.provider import provider_url  # noqa: F401 - the fixture, for the metadata routes
from tests.test_contract import MANIFEST

pytestmark = pytest.mark.mariadb

# Bounded and reproducible: a fixed seed, Hypothesis derandomized, no example database.
MAX_EXAMPLES = 20
SEED = 13
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Route keys (manifest spelling) left out, each with the reason.
EXCLUDED = {
    # Starts a real download (yt-dlp in a thread of the app, fetching the video's source
    # from the network): an outside effect this run cannot have, and left running past the
    # request. Its queueing is covered by tests/test_downloads*.py.
    "POST /api/videos/<int:video_id>/download",
}
# The two callers: ids far from the ones the library's rows get, so an example's
# DELETE /api/users/{id} or role change does not remove the caller itself.
ACTORS = {"admin": 1_000_001, "user": 1_000_002}
KEY = "test-secret-key-0123456789"
BASE_URL = f"http://{asgi.HOST}"  # a host the gateway trusts


def client_of(gateway: Gateway) -> asgi.ASGIClient:
    """Schemathesis's in-process client (its requests reach the app as a server's would)."""
    # It types ASGI messages as dicts, Starlette as mutable mappings: the same protocol.
    return asgi.get_client(cast(Any, gateway))


# Phase 4: the pages and /static answer HTML and files to browsers, not the JSON API the
# schema documents; parity (tests/gateway/test_parity.py) and the browser tests
# (tests/browser/) cover them.
PAGES_PHASE = 4


def fastapi_routes() -> set[str]:
    """The committed manifest's FastAPI-owned API routes, as 'METHOD /path/{name}' (the
    Socket.IO channel is no HTTP operation: tests/test_realtime.py tests it)."""
    return {
        mf.twin_key(e.key)
        for e in mf.load(MANIFEST).entries
        if e.owner == "fastapi"
        and e.key not in EXCLUDED
        and e.method != mf.CHANNEL
        and e.phase != PAGES_PHASE
    }


def page_routes() -> set[str]:
    return {mf.twin_key(e.key) for e in mf.load(MANIFEST).in_phase(PAGES_PHASE)}


@pytest.fixture(scope="module")
def st_settings(
    mariadb_database: str,
    provider_url: str,  # noqa: F811 - the fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    tmp = tmp_path_factory.mktemp("schemathesis")
    manifest = tmp / "migration_status.yaml"
    shutil.copy(MANIFEST, manifest)  # the watcher's lock file goes beside it, not in the tree
    return Settings(
        _env_file=None,
        env="test",
        var_dir=tmp / "var",
        database_url=mariadb_database,
        secret_key=KEY,
        media_root=tmp / "media",
        log_file=tmp / "var" / "figway.log",
        metadata_base_url=provider_url,
        redis_url=None,  # downloads would run in threads: none is started (see EXCLUDED)
        password_scrypt_n=TEST_SCRYPT_N,
        manifest=manifest,
        # The library's queued download is restored with its first created_at: a run past
        # this would have the reaper send it again, and a thread start fetching it.
        download_requeue_after_s=3600,
    )


class Library:
    """The rows and media files every operation starts from."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.media = Path(str(settings.media_root))
        self.pristine = self.media.with_name("media-pristine")
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def seed(self) -> None:
        sessions = sync_sessionmaker(self.engine)
        with sessions() as session, session.begin():
            for role, user_id in ACTORS.items():
                session.add(
                    User(
                        id=user_id,
                        username=f"st-{role}",
                        role=role,
                        preferences={},
                        password_hash=hash_password("correct-horse-battery", n=TEST_SCRYPT_N),
                    )
                )
            for n, role in enumerate(("readonly", "user", "manager", "admin"), start=1):
                session.add(
                    User(
                        id=n,
                        username=f"someone{n}",
                        role=role,
                        preferences={},
                        password_hash=hash_password("correct-horse-battery", n=TEST_SCRYPT_N),
                    )
                )
        seed_demo(self.settings, sessions, say=lambda _line: None)
        with sessions() as session, session.begin():
            session.add(Playlist(name="Mine", owner_id=ACTORS["user"], is_public=False))
            session.add(Setting(key="site_name", value="figway", description="shown in titles"))
            session.add(Setting(key="page_size", value=25))
            session.add(Download(video_id=1, requested_by=ACTORS["user"], status="completed"))
            session.add(Download(video_id=2, requested_by=ACTORS["user"], status="queued"))
            session.add(Download(video_id=3, requested_by=ACTORS["admin"], status="failed"))
        with self.engine.connect() as conn:
            self.rows = {
                t.name: [dict(r) for r in conn.execute(select(t)).mappings()]
                for t in Base.metadata.sorted_tables
            }
        shutil.copytree(self.media, self.pristine)

    def restore(self) -> None:
        with self.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
            for table in Base.metadata.sorted_tables:
                if self.rows[table.name]:
                    conn.execute(table.insert(), self.rows[table.name])
        shutil.rmtree(self.media)
        shutil.copytree(self.pristine, self.media)


@pytest.fixture(scope="module")
def library(st_settings: Settings) -> Iterator[Library]:
    engine = create_sync_engine(st_settings)
    with engine.begin() as conn:
        # TRUNCATE, not DELETE: the ids start at 1 again, whatever ran on this database
        # before (toward_rows and the downloads below count on it).
        conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
        for table in Base.metadata.sorted_tables:
            conn.execute(text(f"TRUNCATE TABLE {table.name}"))
        conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    library = Library(st_settings, engine)
    library.seed()
    yield library
    engine.dispose()


@pytest.fixture(scope="module")
def gateway(st_settings: Settings, library: Library) -> Iterator[Gateway]:
    """The gateway as served, its lifespan started (and ended after the module)."""
    app = create_figway(st_settings)
    with client_of(app):  # starts the lifespan; the transport keeps it running
        yield app
    asgi.shutdown_lifespans()


# Loaded when the module is: Schemathesis makes one test per operation from a schema it has
# at collection. (Its lazy loader, from_fixture, does not run on this pytest: it sets
# Node._nodeid, which pytest 9.2 no longer has.) The app needs no database to say it.
def openapi_document() -> dict[str, Any]:
    """What the FastAPI app serves at /openapi.json."""
    settings = Settings(_env_file=None, env="test", database_url="sqlite://", secret_key=KEY)
    document: dict[str, Any] = create_fastapi_app(settings).openapi()
    return document


def load_schema() -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "base-url": BASE_URL,
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        }
    )
    wanted = fastapi_routes()
    return schemathesis.openapi.from_dict(DOCUMENT, config=config).include(
        lambda ctx: f"{ctx.operation.method.upper()} {ctx.operation.path}" in wanted
    )


DOCUMENT = openapi_document()
schema = load_schema()
SETTING_KEYS = ("site_name", "page_size")  # the library's settings
SIZES = tuple(VIDEO_THUMBNAIL_SIZES)


def toward_rows(parameters: dict[str, Any]) -> dict[str, Any]:
    """Path parameters moved onto the library's rows: ids 1 to 5 (artists have 3, videos 7,
    so some still miss), a setting key that exists, a thumbnail size that exists."""
    moved = dict(parameters)
    for name, value in parameters.items():
        if name.endswith("_id") and isinstance(value, int):
            moved[name] = abs(value) % 5 + 1
        elif name == "key" and isinstance(value, str):
            moved[name] = SETTING_KEYS[len(value) % len(SETTING_KEYS)]
        elif name == "size" and isinstance(value, str):
            moved[name] = SIZES[len(value) % len(SIZES)]
    return moved


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    # Generated ids rarely name a row: about half the examples are moved onto existing ones,
    # so the reads find data and the writes change it; the rest still meet the 404s.
    if not path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, toward_rows(path_parameters)])


def test_the_schema_tested_is_what_the_gateway_serves(gateway: Gateway) -> None:
    with client_of(gateway) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["x-served-by"] == "fastapi"
    assert response.json() == DOCUMENT
    documented = {
        f"{method.upper()} {path}"
        for path, operations in DOCUMENT["paths"].items()
        for method in operations
    }
    # Every FastAPI-owned API route is in the schema: none escapes the run unnoticed; the
    # pages are not (an HTML page is no operation of the API).
    assert fastapi_routes() <= documented, sorted(fastapi_routes() - documented)
    assert page_routes()
    assert not page_routes() & documented, sorted(page_routes() & documented)


class Run:
    """One role's pass: restores the library when the next operation starts."""

    def __init__(self, role: str, settings: Settings, library: Library, gateway: Gateway) -> None:
        token = issue_token(settings, ACTORS[role], role)["access_token"]  # an hour: plenty
        self.headers = {"Authorization": f"Bearer {token}"}
        self.library = library
        self.operation: str | None = None
        self.client = client_of(gateway)

    def call(self, case: schemathesis.Case[Any]) -> None:
        if case.operation.label != self.operation:
            self.library.restore()
            self.operation = case.operation.label
        case.call_and_validate(session=self.client, headers=self.headers, checks=CHECKS)


@pytest.fixture(scope="module")
def as_admin(st_settings: Settings, library: Library, gateway: Gateway) -> Iterator[Run]:
    run = Run("admin", st_settings, library, gateway)
    yield run
    run.client.close()


@pytest.fixture(scope="module")
def as_user(st_settings: Settings, library: Library, gateway: Gateway) -> Iterator[Run]:
    run = Run("user", st_settings, library, gateway)
    yield run
    run.client.close()


SETTINGS = hypothesis.settings(
    deadline=None,  # the gateway and MariaDB on a shared machine: time is not the question
    suppress_health_check=list(hypothesis.HealthCheck),
)


@schema.parametrize()
@SETTINGS
def test_as_admin(case: schemathesis.Case[Any], as_admin: Run) -> None:
    as_admin.call(case)


@schema.parametrize()
@SETTINGS
def test_as_user(case: schemathesis.Case[Any], as_user: Run) -> None:
    as_user.call(case)
