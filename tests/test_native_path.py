"""The twins' native data path: one pool checkout per request and no avoidable round trip
(no ping, no separate count, no second rollback), with the idle ping keeping a connection
the server dropped from failing a request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, event, text
from starlette.testclient import TestClient

from fastapi_app import create_fastapi_app
from shared.auth.tokens import issue_token
from shared.config import Settings
from shared.db import dialects
from shared.db.engine import sync_url
from shared.db.models import Artist, Video
from shared.services.auth import open_session
from tests.mariadb_sites import OWNERS, scratch_mariadb
from tests.mariadb_sites import bearer as mariadb_bearer
from tests.servers import base_env, figway, free_port, serving
from tests.test_contract import MANIFEST, legacy_manifest

Trips = Counter[str]


@pytest.fixture
def twins(flask_app: Any, settings: Settings) -> Callable[..., Any]:
    """The FastAPI app alone on the test database (the Flask app made its tables)."""

    def make(**changes: Any) -> TestClient:
        return TestClient(create_fastapi_app(settings.model_copy(update=changes)))

    return make


def _count_trips(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> Trips:
    """What reaches the database from now on, by kind: a COMMIT or ROLLBACK counts only
    when the dialect hands it to the driver (shared.db.dialects skips those with no
    transaction open)."""
    engine = client.app.state.figway.engine.sync_engine  # type: ignore[attr-defined]
    trips: Trips = Counter()
    dialect = engine.dialect
    mro = type(dialect).__mro__
    driver_dialect = mro[mro.index(dialects._EndsOnlyOpenTransactions) + 1]
    for name, owner in (
        ("do_ping", dialect),
        ("do_rollback", driver_dialect),
        ("do_commit", driver_dialect),
    ):
        original = getattr(owner, name)

        def counted(*args: Any, _original: Any = original, _name: str = name) -> Any:
            trips[_name] += 1
            return _original(*args)

        monkeypatch.setattr(owner, name, counted)
    event.listen(engine, "checkout", lambda *_: trips.update(["checkout"]))
    event.listen(engine, "before_cursor_execute", lambda *_: trips.update(["statement"]))
    return trips


@pytest.fixture
def videos(db_session: Any) -> None:
    artist = Artist(name="A")
    db_session.add(artist)
    db_session.flush()
    db_session.add_all(Video(artist_id=artist.id, title=f"v{i}") for i in range(3))
    db_session.commit()


def _one_request(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, path: str, **kwargs: Any
) -> tuple[Any, Trips]:
    client.get(path, **kwargs)  # the pool's first connection (and its setup) is not counted
    trips = _count_trips(client, monkeypatch)
    response = client.get(path, **kwargs)
    assert response.status_code == 200, response.text
    return response, trips


@pytest.mark.usefixtures("videos")
def test_the_videos_list_is_one_checkout_and_two_statements(twins, bearer, monkeypatch):
    with twins() as client:
        response, trips = _one_request(
            client, monkeypatch, "/api/videos?limit=2", headers=bearer("readonly")
        )
    assert response.json()["total"] == 3 and response.json()["count"] == 2
    # The caller by primary key, the page with its total; reads open no transaction, so
    # none is ended.
    assert trips == {"checkout": 1, "statement": 2}


def test_me_by_bearer_is_one_statement(twins, bearer, monkeypatch):
    with twins() as client:
        _, trips = _one_request(client, monkeypatch, "/api/auth/me", headers=bearer("readonly"))
    assert trips == {"checkout": 1, "statement": 1}


def test_me_by_cookie_writes_last_seen_at_only_when_due(
    twins, settings, make_user, db_session, monkeypatch
):
    user = make_user("readonly")
    token = open_session(db_session, settings, user)  # last seen: now
    db_session.commit()
    with twins() as client:
        cookie = client.app.state.figway.cookies.dumps({"_permanent": True, "sid": token})
        client.cookies.set(settings.session_cookie_name, cookie)
        response, trips = _one_request(client, monkeypatch, "/api/auth/me")
    assert response.json()["id"] == user.id
    assert trips == {"checkout": 1, "statement": 1}


@pytest.mark.usefixtures("videos")
def test_a_route_not_yet_converted_shares_the_one_checkout(twins, bearer, monkeypatch):
    with twins() as client:
        _, trips = _one_request(client, monkeypatch, "/api/playlists", headers=bearer("readonly"))
    assert trips["checkout"] == 1 and trips["do_ping"] == 0


@pytest.mark.parametrize(
    "database_url", [pytest.param("mariadb", marks=pytest.mark.mariadb)], indirect=True
)
def test_a_connection_the_server_dropped_while_idle_costs_no_request(twins, bearer, database_url):
    auth = bearer("readonly")
    with twins(db_ping_after_idle_s=0) as client:
        assert client.get("/api/auth/me", headers=auth).status_code == 200
        # Every connection to this scratch database but ours ends, as in a server restart:
        # the twins' pooled one among them.
        direct = create_engine(sync_url(database_url))
        with direct.connect() as conn:
            others = conn.execute(
                text(
                    "SELECT id FROM information_schema.processlist"
                    " WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                )
            ).scalars()
            killed = [conn.execute(text(f"KILL CONNECTION {int(i)}")) for i in others]
        direct.dispose()
        assert killed
        response = client.get("/api/auth/me", headers=auth)
    assert response.status_code == 200, response.text


@pytest.mark.mariadb
@pytest.mark.parametrize("owner", OWNERS)
def test_auth_changes_act_on_the_next_request_in_every_worker(tmp_path, owner):
    """No process remembers a caller: a changed role, a logout and a deleted user act on
    the very next request, whichever of two workers takes it, on each side."""
    with scratch_mariadb() as database_url:
        manifest = tmp_path / "migration_status.yaml"
        if owner == "flask":
            legacy_manifest(manifest)
        else:
            manifest.write_text(MANIFEST.read_text())  # every route owned by its twin
        env = base_env(tmp_path, DATABASE_URL=database_url, FIGWAY_MANIFEST=str(manifest))
        assert figway("db", "upgrade", env=env).returncode == 0
        auth = mariadb_bearer(database_url, "someone")
        engine = create_engine(sync_url(database_url))
        port = free_port()
        with serving(["serve", "--port", str(port), "--workers", "2"], env, port) as url:

            def statuses(path: str, **kwargs: Any) -> set[int]:
                # A new connection each: the two workers share the listening socket.
                return {httpx.get(url + path, **kwargs).status_code for _ in range(12)}

            assert statuses("/api/users", headers=auth) == {403}
            with engine.begin() as conn:
                conn.execute(text("UPDATE users SET role = 'admin' WHERE username = 'someone'"))
            assert statuses("/api/users", headers=auth) == {200}

            login = httpx.post(url + "/auth/login", json={"username": "someone", "password": "pw"})
            cookies = dict(login.cookies)
            assert statuses("/api/auth/me", cookies=cookies) == {200}
            assert httpx.post(url + "/auth/logout", cookies=cookies).status_code == 200
            assert statuses("/api/auth/me", cookies=cookies) == {401}

            with engine.begin() as conn:
                conn.execute(text("DELETE FROM users WHERE username = 'someone'"))
            assert statuses("/api/auth/me", headers=auth) == {401}
        engine.dispose()


def test_an_anonymous_caller_is_refused_without_the_database(settings):
    """No credentials, no lookup: the 401 the legacy side answers, with the database away
    (a caller named by a token still needs it: 503)."""
    gone = f"mysql://root@127.0.0.1:{free_port()}/gone"
    down = settings.model_copy(update={"database_url": gone})
    token = issue_token(down, 1, "admin")["access_token"]
    with TestClient(create_fastapi_app(down)) as client:
        for path in ("/api/videos", "/api/health/database", "/api/playlists"):
            assert client.get(path).status_code == 401, path
            named = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert named.status_code == 503, path
