"""Fixtures: a fresh app and database per test, on SQLite always and MariaDB when configured.

MariaDB runs when FIGWAY_TEST_DATABASE_URL names a server (any database on it): the
suite creates its own database there, empties it between tests, and drops it at the
end. With FIGWAY_REQUIRE_SERVICES=1 (CI) a missing server fails the run instead of
skipping its half of the suite.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gateway.state import tables as state_tables
from shared.auth.passwords import hash_password
from shared.auth.tokens import issue_token
from shared.config import Settings
from shared.db.base import Base
from shared.db.engine import sync_url
from shared.db.models import ROLES, User
from shared.db.scratch import scratch_database
from tests.modes import FLASK_FREE, THROUGH_GATEWAY

if TYPE_CHECKING:
    # Only annotations: the Flask-free run has no Flask (tests/modes.py).
    from flask import Flask
    from flask.testing import FlaskClient

REQUIRE_SERVICES = os.environ.get("FIGWAY_REQUIRE_SERVICES") == "1"
MARIADB_SERVER_URL = os.environ.get("FIGWAY_TEST_DATABASE_URL")
REDIS_TEST_URL = os.environ.get("FIGWAY_TEST_REDIS_URL")
PASSWORD = "correct-horse-battery"
TEST_SCRYPT_N = 2**4  # hashes carry their cost; tests need speed, not strength


def service_missing(what: str) -> NoReturn:
    """Skip locally, fail in CI: a required service must never be silently absent."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (FIGWAY_REQUIRE_SERVICES=1) but unavailable")
    pytest.skip(f"{what} not configured")


@pytest.fixture(scope="session")
def mariadb_database() -> Iterator[str]:
    """A database of our own on the MariaDB server, with the schema; dropped at the end."""
    if not MARIADB_SERVER_URL:
        service_missing("MariaDB (FIGWAY_TEST_DATABASE_URL)")
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(MARIADB_SERVER_URL, "figway_test"))
        except Exception as exc:  # any connection failure means "missing"
            service_missing(f"MariaDB at {MARIADB_SERVER_URL} ({exc.__class__.__name__})")
        schema = create_engine(url)
        create_schema(schema)
        schema.dispose()
        yield url


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, on SQLite and on MariaDB, for migrations."""
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


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis named by FIGWAY_TEST_REDIS_URL, checked to answer."""
    import redis

    if not REDIS_TEST_URL:
        service_missing("Redis (FIGWAY_TEST_REDIS_URL)")
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_missing(f"Redis at {REDIS_TEST_URL} ({exc.__class__.__name__})")
    finally:
        client.close()
    return REDIS_TEST_URL


def table_names(url: str) -> set[str]:
    """The tables the database `url` names holds now."""
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def create_schema(engine: Engine) -> None:
    """The demo's tables and figway's own (its audit history), as `figway db upgrade` makes
    them (tests/test_migrations.py checks they agree)."""
    Base.metadata.create_all(engine)
    state_tables.metadata.create_all(engine)


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in [
            *reversed(Base.metadata.sorted_tables),
            *state_tables.metadata.tables.values(),
        ]:
            conn.execute(table.delete())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the schema, made once: each test gets a copy of it, the same
    file create_schema would give it (about 60 ms a test saved, over a thousand tests)."""
    path = tmp_path_factory.mktemp("schema") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def mariadb_emptier(mariadb_database: str) -> Iterator[Engine]:
    """One pooled connection that empties the suite's MariaDB database between tests: a
    new connection costs a handshake and the dialect's first queries, on every test. The
    pre-ping replaces it if a test ended it (tests/test_native_path.py kills every
    connection to the database)."""
    engine = create_engine(mariadb_database, pool_size=1, pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("mariadb_database")
    _empty_tables(request.getfixturevalue("mariadb_emptier"))
    yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path / "var",
        database_url=database_url,
        secret_key="test-secret-key-0123456789",
        media_root=tmp_path / "media",
        log_file=tmp_path / "var" / "figway.log",
        metadata_base_url="http://127.0.0.1:9",  # nothing listens: tests that need it set it
        redis_url=None,
        password_scrypt_n=TEST_SCRYPT_N,
    )


@pytest.fixture
def flask_app(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The legacy Flask app on the test database. Never behind the gateway by itself:
    fixtures that only use its database (db_session, make_user, bearer) ask for this one,
    so that a test which sends no request to the legacy app is not run again in the
    gateway pass, where it would prove nothing new. In the Flask-free run, the FastAPI app
    alone stands in for it (tests/flask_free.py)."""
    if FLASK_FREE:
        from tests.flask_free import FastAPIAlone

        alone = FastAPIAlone(settings)
        try:
            yield alone  # type: ignore[misc]
        finally:
            alone.close()
        if "app" in request.fixturenames and not alone.requests:
            pytest.fail("no request went to the FastAPI app: ask for `flask_app` instead")
        return
    from legacy_flask import create_app

    application = create_app(settings)
    try:
        if (
            THROUGH_GATEWAY
            or "app" in request.fixturenames
            or "tests/gateway/" in request.node.nodeid
        ):
            yield application
            return
        from tests.loop_guard import guarding

        # What the gateway pass gave these tests when it ran them too: the loop guard armed
        # while they run, over the twins they call directly (as the `app` fixture arms it).
        with guarding(sleeps=False) as caught:
            yield application
        if caught:
            pytest.fail(f"blocking calls on the event loop: {caught}")
    finally:
        application.extensions["figway"].close()


@pytest.fixture
def app(flask_app: Flask, settings: Settings, tmp_path: Path) -> Iterator[Flask]:
    """The legacy app the test sends requests to: flask_app itself, or, in the gateway
    pass (FIGWAY_TEST_THROUGH_GATEWAY=1), flask_app with the gateway in front of it (in the
    Flask-free run, the FastAPI app alone: see flask_app)."""
    if not THROUGH_GATEWAY:
        yield flask_app
        return
    from tests.loop_guard import guarding
    from tests.through_gateway import route_through_gateway

    # The twins serve this test: the event-loop guard watches them while they do (for all
    # but sleeps, which the parity run watches for: see tests/loop_guard.py).
    with guarding(sleeps=False) as caught:
        teardown = route_through_gateway(flask_app, settings, tmp_path)
        yield flask_app
        requests = teardown()
    if caught:
        pytest.fail(f"blocking calls on the event loop: {caught}")
    if not requests:
        # The gateway pass exists to send the legacy suite's requests through the gateway;
        # a test that sends none runs twice for nothing.
        pytest.fail(
            "no request went through the gateway: ask for `flask_app` (or `db_session`)"
            " instead of `app`, so the gateway pass leaves this test out"
        )


@pytest.fixture
def app_with(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Apps like `app` on changed settings, `app_with(database_url=...)`: the Flask app, with
    the gateway in front in the gateway pass, the FastAPI app alone in the Flask-free run.
    Each is closed at the end of the test."""
    with ExitStack() as stack:
        made = 0

        def make(**changes: Any) -> Any:
            nonlocal made
            made += 1
            changed = settings.model_copy(update=changes)
            if FLASK_FREE:
                from tests.flask_free import FastAPIAlone

                alone = FastAPIAlone(changed)
                stack.callback(alone.close)
                return alone
            from legacy_flask import create_app

            application = create_app(changed)
            stack.callback(application.extensions["figway"].close)
            if THROUGH_GATEWAY:
                from tests.through_gateway import route_through_gateway

                gateway_dir = tmp_path / f"app-with-{made}"
                gateway_dir.mkdir()
                stack.callback(route_through_gateway(application, changed, gateway_dir))
            return application

        yield make


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db_session(flask_app: Flask) -> Iterator[Session]:
    """A session on the app's own database, for arranging rows and checking what is left."""
    session: Session = flask_app.extensions["figway"].sessions()
    yield session
    session.close()


UserFactory = Callable[..., User]


@pytest.fixture
def make_user(db_session: Session) -> UserFactory:
    counter = iter(range(1, 10_000))

    def factory(
        role: str = "user", username: str | None = None, password: str = PASSWORD, **fields: Any
    ) -> User:
        assert role in ROLES
        user = User(
            username=username or f"{role}{next(counter)}",
            role=role,
            password_hash=hash_password(password, n=TEST_SCRYPT_N),
            preferences={},
            **fields,
        )
        db_session.add(user)
        db_session.commit()
        return user

    return factory


@pytest.fixture
def login(client: FlaskClient, make_user: UserFactory) -> Callable[[str], User]:
    """Log the test client in through the real POST /auth/login as a new user of `role`."""

    def do_login(role: str = "user") -> User:
        user = make_user(role)
        response = client.post(
            "/auth/login", json={"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.get_json()
        return user

    return do_login


@pytest.fixture
def bearer(settings: Settings, make_user: UserFactory) -> Callable[[str], dict[str, str]]:
    """Authorization headers with a fresh JWT for a new user of `role`."""

    def headers(role: str = "user") -> dict[str, str]:
        user = make_user(role)
        token = issue_token(settings, user.id, user.role)["access_token"]
        return {"Authorization": f"Bearer {token}"}

    return headers


def assert_error(response: Any, status: int, code: str) -> None:
    """The legacy error shape: exactly an error message and an UPPER_SNAKE code."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)
    assert body.get("code") == code, body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert "detail" not in body and "Traceback" not in response.get_data(as_text=True)


def server_url_without_db(url: str) -> str:
    return make_url(url).set(database=None).render_as_string(hide_password=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Through the gateway, only the tests that talk to the legacy app have anything to say:
    those asking for `app` (the `app` fixture fails one that sends nothing through it).
    Never the browser tests, whatever fixtures they come to use: they drive a real `figway
    serve` (the gateway already), so a second run would prove nothing new. The Flask-free
    run keeps the same tests: the HTTP-level legacy suite.

    The two share the databases out, so that each twin's test runs once on each after the
    first pass ran both against Flask: through the gateway on MariaDB (as deployed; on
    SQLite where no MariaDB is configured), without Flask on SQLite (the embedded
    default)."""
    if not (THROUGH_GATEWAY or FLASK_FREE):
        return
    database = "mariadb" if THROUGH_GATEWAY and MARIADB_SERVER_URL else "sqlite"
    keep = [
        i
        for i in items
        if "app" in getattr(i, "fixturenames", ())
        and not any(d in i.nodeid for d in ("tests/gateway/", "tests/browser/"))
        and _database_of(i) in (None, database)
        and not (FLASK_FREE and i.get_closest_marker("flask_side"))
    ]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


def _database_of(item: pytest.Item) -> str | None:
    """The database a test runs on (the `database_url` fixture's parameter), if it has one."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("database_url") if callspec is not None else None


# The Flask side's packages: a test module that needs them at import is about Flask itself.
_FLASK_SIDE = frozenset({"flask", "werkzeug", "flask_socketio", "legacy_flask"})
# Folders the gateway and Flask-free runs never keep (see pytest_collection_modifyitems).
_NEVER_FLASK_FREE = ("gateway", "browser", "schema", "example")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the Flask-free run, a test module that cannot even be imported without Flask (it
    tests Flask's side itself, or a tool that reads the Flask app) is left out; every module
    of the HTTP-level legacy suite imports without it, and its tests run."""
    if not FLASK_FREE:
        return None
    tests = Path(__file__).parent
    if collection_path.is_dir():
        return collection_path.parent == tests and collection_path.name in _NEVER_FLASK_FREE
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    import importlib

    relative = collection_path.relative_to(tests.parent).with_suffix("")
    try:
        importlib.import_module(".".join(relative.parts))
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in _FLASK_SIDE:
            return True
        raise
    return None
