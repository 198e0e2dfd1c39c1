"""The metadata and thumbnail routes on the native data path: the twins hold no pooled
connection (and so no transaction) while they wait on the provider, the search does no
database work but the caller's lookup, and a write that changes nothing leaves
updated_at alone on both sides, as the ORM's flush did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from fastapi_app import create_fastapi_app
from shared.clients.metadata import ProviderArtist, ProviderArtistDetail, ProviderVideo
from shared.config import Settings
from shared.db.models import Artist, Video
from shared.services import metadata as metadata_service
from tests.provider import provider_url
from tests.test_media import make_artist, png, upload
from tests.test_metadata import CATALOGUE, HORIZON, add_artist, add_video, refresh

__all__ = ["provider_url"]  # a fixture, used by name

OLD = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings, provider_url: str) -> Settings:
    return settings.model_copy(update={"metadata_base_url": provider_url})


@pytest.fixture
def twin(settings: Settings, flask_app: Any) -> Iterator[TestClient]:
    """The FastAPI app alone on the test database (the Flask app made its tables)."""
    with TestClient(create_fastapi_app(settings)) as client:
        yield client


class HeldConnections:
    """A provider stand-in recording how many pooled connections the twin holds at each
    call, and the statements that reach the database."""

    def __init__(self, client: TestClient) -> None:
        state = client.app.state.figway  # type: ignore[attr-defined]
        self.pool = state.engine.sync_engine.pool
        self.held: list[int] = []
        self.statements: list[str] = []
        self.checkouts = 0
        engine = state.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "checkout", self._checkout)
        self.real = state.metadata
        state.metadata = self

    async def aclose(self) -> None:
        await self.real.aclose()

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(statement)

    def _checkout(self, *_: Any) -> None:
        self.checkouts += 1

    def _waiting(self) -> None:
        self.held.append(self.pool.checkedout())

    async def search_artists(self, name: str) -> list[ProviderArtist]:
        self._waiting()
        return [ProviderArtist(HORIZON.id, "Horizon", None, None, 1)]

    async def artist(self, imvdb_id: int) -> ProviderArtistDetail:
        self._waiting()
        video = ProviderVideo(7001, "A Song", 2001, None, None, None)  # lacks its source
        return ProviderArtistDetail(imvdb_id, "Horizon", None, None, ("pop",), (video,))

    async def video(self, imvdb_id: int) -> ProviderVideo:
        self._waiting()
        return ProviderVideo(imvdb_id, "A Song", 2001, 200, None, "http://127.0.0.1:1/s.mp4")


def test_the_search_gives_the_connection_back_and_runs_only_the_callers_lookup(
    twin, bearer, db_session
):
    auth = bearer("user")
    twin.get("/api/auth/me", headers=auth)  # the pool's first connection is not counted
    provider = HeldConnections(twin)
    response = twin.get("/api/metadata/search?q=Horizon", headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 1
    assert provider.held == [0]
    assert provider.checkouts == 1 and len(provider.statements) == 1


@pytest.mark.parametrize("route", ["import", "discover", "refresh"])
def test_the_writes_hold_no_connection_while_the_provider_answers(twin, bearer, db_session, route):
    artist = add_artist(db_session, "Someone", imvdb_id=HORIZON.id)
    video = add_video(db_session, artist, "old", imvdb_id=7001)
    auth = bearer("manager")
    provider = HeldConnections(twin)
    if route == "import":
        db_session.delete(video)
        db_session.delete(artist)
        db_session.commit()
        response = twin.post("/api/artists/import-from-imvdb", json={"name": "x"}, headers=auth)
        assert response.status_code == 201, response.text
        assert response.json()["genres"] == ["pop"]
    elif route == "discover":
        db_session.delete(video)
        db_session.commit()
        response = twin.post(f"/api/artists/{artist.id}/videos/discover", headers=auth)
        assert response.status_code == 200, response.text
        assert response.json()["added"] == 1
        assert response.json()["videos"][0]["url"] == "http://127.0.0.1:1/s.mp4"
    else:
        response = twin.post(f"/api/videos/{video.id}/refresh-metadata", headers=auth)
        assert response.status_code == 200, response.text
        assert response.json()["title"] == "A Song"
    assert len(provider.held) == {"import": 2, "discover": 2, "refresh": 1}[route]
    assert set(provider.held) == {0}


# That no twin uses a session or run_sync: tests/test_no_bridge.py, for every router.


def _age(db_session: Session, model: type, row_id: int) -> None:
    table = model.__table__  # type: ignore[attr-defined]
    db_session.execute(update(table).where(table.c.id == row_id).values(updated_at=OLD))
    db_session.commit()


def _updated_at(db_session: Session, model: type[Artist] | type[Video], row_id: int) -> datetime:
    db_session.rollback()
    updated = db_session.scalar(select(model.updated_at).where(model.id == row_id))
    assert updated is not None
    return updated


def test_a_refresh_that_changes_nothing_keeps_updated_at(client, bearer, db_session):
    source = CATALOGUE.videos[HORIZON.video_ids[0]]
    artist = add_artist(db_session, "Horizon", HORIZON.id)
    video = add_video(db_session, artist, "old title", imvdb_id=source.id)
    headers = bearer("manager")
    _age(db_session, Video, video.id)
    first = refresh(client, video.id, headers)
    assert first.status_code == 200, first.get_json()
    assert _updated_at(db_session, Video, video.id) > OLD  # a real change moves it
    _age(db_session, Video, video.id)
    again = refresh(client, video.id, headers)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["updated_at"] == "2001-02-03T04:05:06Z"
    assert _updated_at(db_session, Video, video.id) == OLD
    assert {k: v for k, v in again.get_json().items() if k != "updated_at"} == {
        k: v for k, v in first.get_json().items() if k != "updated_at"
    }


def test_the_same_upload_again_keeps_updated_at(client, login, db_session, settings):
    login("manager")
    artist = make_artist(db_session)
    _age(db_session, Artist, artist.id)
    first = upload(client, artist.id, png((40, 30)))
    assert first.status_code == 200, first.get_json()
    assert _updated_at(db_session, Artist, artist.id) > OLD
    _age(db_session, Artist, artist.id)
    again = upload(client, artist.id, png((40, 30)))
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["updated_at"] == "2001-02-03T04:05:06Z"
    assert _updated_at(db_session, Artist, artist.id) == OLD


def test_discovery_counts_the_providers_repeats_once():
    offered = [
        ProviderVideo(1, "Song", None, None, None, None),
        ProviderVideo(2, "song", None, None, None, None),  # the same title, another case
        ProviderVideo(1, "Other", None, None, None, None),  # the same id
        ProviderVideo(3, "Third", None, None, None, None),
    ]
    fresh: Callable[..., list[ProviderVideo]] = metadata_service._fresh
    assert [v.imvdb_id for v in fresh(9, [], offered)] == [1, 3]
