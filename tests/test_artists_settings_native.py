"""Artists and settings on the native data path: each read is one statement after the
caller's, a write leaves a value set to what it was alone (updated_at included, as the
ORM's flush did), and both sides run the same plans."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from starlette.testclient import TestClient

from fastapi_app import create_fastapi_app
from shared.clock import isoformat, utcnow
from shared.config import Settings
from shared.db.models import Artist, Setting
from shared.serializers import MASK
from tests.factories import make_artist, make_video

Statements = list[str]
LONG_AGO = utcnow() - timedelta(days=30)


@pytest.fixture
def twins(flask_app: Any, settings: Settings) -> Callable[[], TestClient]:
    """The FastAPI app alone on the test database (the Flask app made its tables)."""
    return lambda: TestClient(create_fastapi_app(settings))


def _record(client: TestClient) -> Statements:
    """The SQL of every statement that reaches the database from now on."""
    engine = client.app.state.figway.engine.sync_engine  # type: ignore[attr-defined]
    seen: Statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def _twin_request(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    """The answer to the second of two identical requests, its statements recorded (the
    pool's first connection and its setup are not counted)."""
    client.get("/api/health")
    seen = _record(client)
    response = client.request(method, path, **kwargs)
    return response, seen


def _kinds(seen: Statements) -> Counter[str]:
    return Counter(sql.split(None, 1)[0].upper() for sql in seen)


def _fresh(db_session: Any) -> None:
    """Read anew: a new snapshot (MariaDB reads repeatably within one), nothing remembered."""
    db_session.rollback()
    db_session.expire_all()


@pytest.fixture
def library(db_session: Any) -> dict[str, Artist]:
    busy = make_artist(db_session, name="Busy", created_at=LONG_AGO, updated_at=LONG_AGO)
    idle = make_artist(db_session, name="Idle", genres=["pop"], imvdb_id=7)
    make_video(db_session, busy, status="downloaded")
    make_video(db_session, busy, status="failed")
    make_video(db_session, busy)
    return {"busy": busy, "idle": idle}


# --- the twins: one statement per read, after the caller's ---------------------------------


@pytest.mark.parametrize(
    "query",
    ["", "?sort=-video_count", "?sort=video_count&per_page=1&page=2", "?per_page=1&page=9"],
)
def test_the_artists_page_its_total_and_counts_are_one_statement(twins, bearer, library, query):
    headers = bearer("readonly")
    with twins() as client:
        response, seen = _twin_request(client, "GET", f"/api/artists{query}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2
    # The caller, then the page with its total and counts.
    assert len(seen) == 2, seen
    counts = {a["name"]: a["video_count"] for a in body["artists"]}
    expected = {
        "": {"Busy": 3, "Idle": 0},
        "?sort=-video_count": {"Busy": 3, "Idle": 0},
        "?sort=video_count&per_page=1&page=2": {"Busy": 3},
        "?per_page=1&page=9": {},
    }[query]
    assert counts == expected
    if query == "?sort=-video_count":
        assert [a["name"] for a in body["artists"]] == ["Busy", "Idle"]


def test_one_artist_and_its_counts_by_status_are_one_statement(twins, bearer, library):
    artist_id = library["busy"].id
    with twins() as client:
        response, seen = _twin_request(
            client, "GET", f"/api/artists/{artist_id}", headers=bearer("readonly")
        )
    assert response.status_code == 200, response.text
    assert len(seen) == 2, seen
    body = response.json()
    assert body["video_count"] == 3
    assert body["video_counts"] == {
        "wanted": 1,
        "downloading": 0,
        "downloaded": 1,
        "ignored": 0,
        "failed": 1,
    }


def test_an_artist_without_videos_has_zero_counts(client, bearer, library):
    body = client.get(f"/api/artists/{library['idle'].id}", headers=bearer("readonly")).get_json()
    assert body["video_count"] == 0 and set(body["video_counts"].values()) == {0}
    assert body["genres"] == ["pop"] and body["imvdb_id"] == 7


@pytest.mark.parametrize("path", ["/api/settings", "/api/settings/api_key"])
def test_settings_reads_are_one_statement(twins, bearer, db_session, path):
    db_session.add(Setting(key="api_key", value="s3cret", description=None))
    db_session.commit()
    # The list is for admins, who see it masked; a manager reads one key masked.
    headers = bearer("admin" if path == "/api/settings" else "manager")
    with twins() as client:
        response, seen = _twin_request(client, "GET", path, headers=headers)
    assert response.status_code == 200, response.text
    assert len(seen) == 2, seen
    answer = response.json()
    one = answer["settings"][0] if path == "/api/settings" else answer
    assert one == {"key": "api_key", "value": MASK, "description": None}


def test_an_artist_update_checks_and_reads_in_one_statement(twins, bearer, library):
    artist_id = library["busy"].id
    headers = bearer("manager")
    with twins() as client:
        same, seen = _twin_request(
            client, "PUT", f"/api/artists/{artist_id}", json={"name": "Busy"}, headers=headers
        )
        assert same.status_code == 200, same.text
        # The caller, then the artist with the checks: nothing to write.
        assert _kinds(seen) == {"SELECT": 2}, seen
        changed, seen = _twin_request(
            client, "PUT", f"/api/artists/{artist_id}", json={"name": "Bus"}, headers=headers
        )
    assert changed.status_code == 200, changed.text
    # The write begins its transaction (the twins' reads run in autocommit).
    assert _kinds(seen) == {"SELECT": 2, "BEGIN": 1, "UPDATE": 1}, seen
    assert changed.json()["video_count"] == 3


# --- both sides: what a write changes --------------------------------------------------------


def test_an_artist_set_to_what_it_was_keeps_updated_at(client, bearer, db_session, library):
    artist_id = library["busy"].id
    headers = bearer("manager")
    same = {"name": "Busy", "monitored": True, "genres": [], "imvdb_id": None}
    body = client.put(f"/api/artists/{artist_id}", json=same, headers=headers).get_json()
    assert body["updated_at"] == isoformat(LONG_AGO)
    assert body["video_count"] == 3
    _fresh(db_session)
    assert isoformat(db_session.get(Artist, artist_id).updated_at) == isoformat(LONG_AGO)
    # A real change is written, and updated_at moves with it.
    body = client.put(
        f"/api/artists/{artist_id}", json={"genres": ["rock"]}, headers=headers
    ).get_json()
    assert body["genres"] == ["rock"] and body["updated_at"] != isoformat(LONG_AGO)
    _fresh(db_session)
    stored = db_session.get(Artist, artist_id)
    assert stored.genres == ["rock"] and isoformat(stored.updated_at) == body["updated_at"]


def test_a_created_artist_answers_what_was_stored(client, bearer, db_session):
    new = {"name": "New", "genres": ["a", "b"], "imvdb_id": 5, "monitored": False}
    response = client.post("/api/artists", json=new, headers=bearer("manager"))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    listed = client.get("/api/artists", headers=bearer("readonly")).get_json()["artists"]
    assert listed == [body]
    assert body["video_count"] == 0 and body["created_at"] == body["updated_at"]


def _stored_setting(db_session: Any, key: str) -> Setting:
    _fresh(db_session)
    setting: Setting = db_session.scalars(select(Setting).where(Setting.key == key)).one()
    return setting


def test_a_setting_set_to_what_it_was_keeps_updated_at(client, bearer, db_session):
    db_session.add(Setting(key="theme", value={"a": [1, 2]}, description="d", updated_at=LONG_AGO))
    db_session.add(Setting(key="other", value=1, description=None, updated_at=LONG_AGO))
    db_session.commit()
    headers = bearer("admin")
    response = client.put(
        "/api/settings/theme", json={"value": {"a": [1, 2]}, "description": "d"}, headers=headers
    )
    assert response.status_code == 200
    assert response.get_json() == {"key": "theme", "value": {"a": [1, 2]}, "description": "d"}
    assert isoformat(_stored_setting(db_session, "theme").updated_at) == isoformat(LONG_AGO)
    bulk = {"settings": {"theme": {"a": [1, 2]}, "other": 2}}
    body = client.put("/api/settings/bulk", json=bulk, headers=headers).get_json()
    assert body["updated"] == 2
    assert isoformat(_stored_setting(db_session, "theme").updated_at) == isoformat(LONG_AGO)
    other = _stored_setting(db_session, "other")
    assert other.value == 2 and isoformat(other.updated_at) != isoformat(LONG_AGO)
    # An omitted description stays; a changed value is written and moves updated_at.
    body = client.put("/api/settings/theme", json={"value": None}, headers=headers).get_json()
    assert body == {"key": "theme", "value": None, "description": "d"}
    theme = _stored_setting(db_session, "theme")
    assert theme.value is None and theme.description == "d"
    assert isoformat(theme.updated_at) != isoformat(LONG_AGO)
