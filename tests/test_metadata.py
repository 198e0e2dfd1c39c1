"""The four routes that consult the metadata provider, against the fake provider served for real."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.config import Settings
from shared.db.models import Artist, Video
from shared.fakes.metadata_provider import EMPTY_ARTIST_NAME, build_catalogue
from shared.fakes.serving import serve
from tests.conftest import assert_error
from tests.provider import down_url, provider_url

if TYPE_CHECKING:
    from flask.testing import FlaskClient

__all__ = ["down_url", "provider_url"]  # fixtures, used by name

CATALOGUE = build_catalogue()
HORIZON = CATALOGUE.by_name("Horizon")
EMPTY = CATALOGUE.by_name(EMPTY_ARTIST_NAME)
IMPORT = "/api/artists/import-from-imvdb"


@pytest.fixture
def settings(settings: Settings, provider_url: str) -> Settings:
    return settings.model_copy(update={"metadata_base_url": provider_url})


@pytest.fixture
def app_at(app_with: Callable[..., Any]) -> Callable[[str], FlaskClient]:
    """Clients of apps like `app` but with the provider somewhere else (down, or failing)."""
    return lambda base_url: app_with(metadata_base_url=base_url).test_client()


def count(db_session: Session, model: type) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model)) or 0


def add_artist(
    db_session: Session, name: str = "Local Band", imvdb_id: int | None = None, **fields
) -> Artist:
    artist = Artist(name=name, imvdb_id=imvdb_id, genres=[], **fields)
    db_session.add(artist)
    db_session.commit()
    return artist


def add_video(db_session: Session, artist: Artist, title: str, **fields) -> Video:
    video = Video(artist_id=artist.id, title=title, **fields)
    db_session.add(video)
    db_session.commit()
    return video


# --- POST /api/artists/import-from-imvdb ---------------------------------------------------


def test_import_by_name_takes_the_exact_match(client, bearer, db_session, provider_url):
    # "horizon" also matches four longer names, listed before the exact one.
    response = client.post(IMPORT, json={"name": "hOrIzOn"}, headers=bearer("manager"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["name"] == "Horizon" and body["imvdb_id"] == HORIZON.id
    assert body["genres"] == list(HORIZON.genres) and body["monitored"] is True
    assert body["video_count"] == 0
    assert body["thumbnail_url"] == f"{provider_url}/images/artists/{HORIZON.id}-l.jpg"
    row = db_session.get(Artist, body["id"])
    assert row is not None and row.imvdb_id == HORIZON.id and row.genres == list(HORIZON.genres)


def test_import_by_name_without_exact_match_takes_the_first(client, bearer):
    first = CATALOGUE.search("velvet")[0]
    response = client.post(IMPORT, json={"name": "velvet"}, headers=bearer("manager"))
    assert response.status_code == 201 and response.get_json()["imvdb_id"] == first.id


def test_import_by_id(client, login):
    login("manager")
    response = client.post(IMPORT, json={"imvdb_id": EMPTY.id})
    assert response.status_code == 201
    assert response.get_json()["name"] == EMPTY_ARTIST_NAME


def test_import_id_wins_over_name(client, bearer):
    response = client.post(
        IMPORT, json={"name": "Horizon", "imvdb_id": EMPTY.id}, headers=bearer("admin")
    )
    assert response.status_code == 201 and response.get_json()["imvdb_id"] == EMPTY.id


@pytest.mark.parametrize("data", [{"name": "no such artist anywhere"}, {"imvdb_id": 1}])
def test_import_not_found_at_the_provider(client, bearer, db_session, data):
    assert_error(client.post(IMPORT, json=data, headers=bearer("manager")), 404, "NOT_FOUND")
    assert count(db_session, Artist) == 0


def test_import_twice_is_409(client, bearer, db_session):
    headers = bearer("manager")
    assert client.post(IMPORT, json={"imvdb_id": HORIZON.id}, headers=headers).status_code == 201
    assert_error(client.post(IMPORT, json={"name": "Horizon"}, headers=headers), 409, "CONFLICT")
    assert count(db_session, Artist) == 1


def test_import_same_name_other_case_is_409(client, bearer, db_session):
    add_artist(db_session, "HORIZON")
    assert_error(
        client.post(IMPORT, json={"imvdb_id": HORIZON.id}, headers=bearer("manager")),
        409,
        "CONFLICT",
    )
    assert count(db_session, Artist) == 1


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": 5},
        {"name": "x" * 256},
        {"imvdb_id": "2001"},
        {"imvdb_id": 0},
        {"imvdb_id": -3},
        {"imvdb_id": 2**63},
        {"imvdb_id": True},
        {"name": None, "imvdb_id": None},
        ["Horizon"],
    ],
)
def test_import_bad_input(client, bearer, db_session, data):
    assert_error(client.post(IMPORT, json=data, headers=bearer("manager")), 400, "VALIDATION_ERROR")
    assert count(db_session, Artist) == 0


def test_import_malformed_json(client, bearer):
    assert_error(
        client.post(
            IMPORT, data="{nope", content_type="application/json", headers=bearer("manager")
        ),
        400,
        "BAD_REQUEST",
    )


def test_import_auth(client, bearer):
    assert_error(client.post(IMPORT, json={"name": "Horizon"}), 401, "AUTH_REQUIRED")
    assert_error(
        client.post(IMPORT, json={"name": "Horizon"}, headers=bearer("user")), 403, "FORBIDDEN"
    )


# --- POST /api/artists/<id>/videos/discover ------------------------------------------------


def discover(client: FlaskClient, artist_id: int, headers: dict[str, str]):
    return client.post(f"/api/artists/{artist_id}/videos/discover", headers=headers)


def test_discover_adds_new_videos_as_wanted(client, bearer, db_session, provider_url):
    artist = add_artist(db_session, "Horizon", HORIZON.id)
    first, second, *rest = (CATALOGUE.videos[v] for v in HORIZON.video_ids)
    add_video(db_session, artist, first.title.upper())  # same title: skipped
    elsewhere = add_artist(db_session, "Somebody Else")
    add_video(db_session, elsewhere, "Taken", imvdb_id=second.id)  # same imvdb id: skipped

    response = discover(client, artist.id, bearer("manager"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["success"] is True and body["added"] == len(rest) and body["skipped"] == 2
    assert [v["imvdb_id"] for v in body["videos"]] == [v.id for v in rest]
    added = body["videos"][0]
    assert added["title"] == rest[0].title and added["status"] == "wanted"
    assert added["artist_id"] == artist.id and added["artist_name"] == "Horizon"
    assert added["year"] == rest[0].year and added["duration"] == rest[0].duration_seconds
    assert added["url"] == f"{provider_url}/videos/{rest[0].id}.mp4"
    assert added["thumbnail_url"] == f"{provider_url}/images/videos/{rest[0].id}-l.jpg"
    assert added["has_file"] is False
    assert count(db_session, Video) == 2 + len(rest)


def test_discover_again_adds_nothing(client, bearer, db_session):
    artist = add_artist(db_session, "Horizon", HORIZON.id)
    headers = bearer("manager")
    assert discover(client, artist.id, headers).get_json()["added"] == len(HORIZON.video_ids)
    again = discover(client, artist.id, headers).get_json()
    assert again == {"success": True, "added": 0, "skipped": len(HORIZON.video_ids), "videos": []}
    assert count(db_session, Video) == len(HORIZON.video_ids)


def test_discover_an_artist_without_videos(client, bearer, db_session):
    artist = add_artist(db_session, EMPTY_ARTIST_NAME, EMPTY.id)
    assert discover(client, artist.id, bearer("manager")).get_json() == {
        "success": True,
        "added": 0,
        "skipped": 0,
        "videos": [],
    }


def test_discover_errors(client, bearer, db_session):
    headers = bearer("manager")
    assert_error(discover(client, 999, headers), 404, "NOT_FOUND")
    local = add_artist(db_session, "Local Band")
    assert_error(discover(client, local.id, headers), 400, "VALIDATION_ERROR")
    gone = add_artist(db_session, "Gone From Provider", imvdb_id=1)
    assert_error(discover(client, gone.id, headers), 404, "NOT_FOUND")
    assert count(db_session, Video) == 0


def test_discover_auth(client, bearer, db_session):
    artist = add_artist(db_session, "Horizon", HORIZON.id)
    assert_error(client.post(f"/api/artists/{artist.id}/videos/discover"), 401, "AUTH_REQUIRED")
    assert_error(discover(client, artist.id, bearer("user")), 403, "FORBIDDEN")
    assert count(db_session, Video) == 0


# --- POST /api/videos/<id>/refresh-metadata ------------------------------------------------


def refresh(client: FlaskClient, video_id: int, headers: dict[str, str]):
    return client.post(f"/api/videos/{video_id}/refresh-metadata", headers=headers)


def test_refresh_takes_the_provider_values(client, bearer, db_session, provider_url):
    source = CATALOGUE.videos[HORIZON.video_ids[0]]
    artist = add_artist(db_session, "Horizon", HORIZON.id)
    video = add_video(
        db_session, artist, "old title", imvdb_id=source.id, year=1900, status="downloaded"
    )
    response = refresh(client, video.id, bearer("manager"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == video.id and body["title"] == source.title
    assert body["year"] == source.year and body["duration"] == source.duration_seconds
    assert body["url"] == f"{provider_url}/videos/{source.id}.mp4"
    assert body["status"] == "downloaded" and body["artist_name"] == "Horizon"
    db_session.expire_all()
    assert db_session.get(Video, video.id).title == source.title


def test_refresh_keeps_an_existing_url(client, bearer, db_session):
    source = CATALOGUE.videos[HORIZON.video_ids[1]]
    artist = add_artist(db_session, "Horizon", HORIZON.id)
    video = add_video(
        db_session, artist, source.title, imvdb_id=source.id, url="http://127.0.0.1:1/mine.mp4"
    )
    body = refresh(client, video.id, bearer("manager")).get_json()
    assert body["url"] == "http://127.0.0.1:1/mine.mp4"


def test_refresh_title_clash_is_409_and_writes_nothing(client, bearer, db_session):
    source = CATALOGUE.videos[HORIZON.video_ids[0]]
    artist = add_artist(db_session, "Horizon", HORIZON.id)
    add_video(db_session, artist, source.title.lower())
    video = add_video(db_session, artist, "old title", imvdb_id=source.id, year=1900)
    assert_error(refresh(client, video.id, bearer("manager")), 409, "CONFLICT")
    db_session.expire_all()
    row = db_session.get(Video, video.id)
    assert (row.title, row.year, row.url, row.duration) == ("old title", 1900, None, None)


def test_refresh_errors(client, bearer, db_session):
    headers = bearer("manager")
    assert_error(refresh(client, 999, headers), 404, "NOT_FOUND")
    artist = add_artist(db_session)
    local = add_video(db_session, artist, "local only")
    assert_error(refresh(client, local.id, headers), 400, "VALIDATION_ERROR")
    gone = add_video(db_session, artist, "gone", imvdb_id=1)
    assert_error(refresh(client, gone.id, headers), 404, "NOT_FOUND")
    db_session.expire_all()
    assert db_session.get(Video, gone.id).title == "gone"


def test_refresh_auth(client, bearer, db_session):
    artist = add_artist(db_session)
    video = add_video(db_session, artist, "t", imvdb_id=HORIZON.video_ids[0])
    assert_error(client.post(f"/api/videos/{video.id}/refresh-metadata"), 401, "AUTH_REQUIRED")
    assert_error(refresh(client, video.id, bearer("user")), 403, "FORBIDDEN")
    db_session.expire_all()
    assert db_session.get(Video, video.id).title == "t"


# --- GET /api/metadata/search --------------------------------------------------------------


def test_search_passes_through(client, login, provider_url):
    login("user")
    body = client.get("/api/metadata/search?q=Horizon").get_json()
    expected = CATALOGUE.search("horizon")
    assert body["query"] == "Horizon" and body["total"] == len(expected)
    assert [r["name"] for r in body["results"]] == [a.name for a in expected]
    last = body["results"][-1]
    assert last == {
        "imvdb_id": HORIZON.id,
        "name": "Horizon",
        "slug": "horizon",
        "image_url": f"{provider_url}/images/artists/{HORIZON.id}-l.jpg",
        "video_count": len(HORIZON.video_ids),
    }


def test_search_with_no_results(client, bearer):
    body = client.get(
        "/api/metadata/search", query_string={"q": "x" * 200}, headers=bearer("user")
    ).get_json()
    assert body == {"query": "x" * 200, "results": [], "total": 0}


@pytest.mark.parametrize("query", ["", "?q=", "?q=%20%20", f"?q={'x' * 201}"])
def test_search_bad_query(client, bearer, query):
    assert_error(
        client.get(f"/api/metadata/search{query}", headers=bearer("user")), 400, "VALIDATION_ERROR"
    )


def test_search_auth(client, bearer):
    assert_error(client.get("/api/metadata/search?q=a"), 401, "AUTH_REQUIRED")
    assert_error(
        client.get("/api/metadata/search?q=a", headers=bearer("readonly")), 403, "FORBIDDEN"
    )


# --- the provider down or failing: 503, nothing written -------------------------------------


def failing_provider() -> Starlette:
    async def fail(_request: Request) -> Response:
        return JSONResponse({"error": "internal"}, status_code=500)

    return Starlette(routes=[Route("/{path:path}", fail)])


@pytest.fixture(params=["refused", "500"])
def broken_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "refused":
        yield request.getfixturevalue("down_url")
        return
    with serve(failing_provider()) as url:
        yield url


def test_provider_down_is_503_and_writes_nothing(app_at, broken_url, bearer, db_session):
    client = app_at(broken_url)
    headers = bearer("manager")
    artist = add_artist(db_session, "Horizon", HORIZON.id)
    video = add_video(db_session, artist, "old title", imvdb_id=HORIZON.video_ids[0])

    assert_error(client.post(IMPORT, json={"name": "Velvet"}, headers=headers), 503, "UNAVAILABLE")
    assert_error(
        client.post(IMPORT, json={"imvdb_id": EMPTY.id}, headers=headers), 503, "UNAVAILABLE"
    )
    assert_error(discover(client, artist.id, headers), 503, "UNAVAILABLE")
    assert_error(refresh(client, video.id, headers), 503, "UNAVAILABLE")
    assert_error(client.get("/api/metadata/search?q=a", headers=headers), 503, "UNAVAILABLE")

    assert count(db_session, Artist) == 1 and count(db_session, Video) == 1
    assert db_session.get(Video, video.id).title == "old title"


def test_checks_before_the_provider_still_answer_when_it_is_down(app_at, down_url, bearer):
    client = app_at(down_url)
    headers = bearer("manager")
    assert_error(discover(client, 999, headers), 404, "NOT_FOUND")
    assert_error(client.post(IMPORT, json={}, headers=headers), 400, "VALIDATION_ERROR")
    assert_error(client.get("/api/metadata/search", headers=headers), 400, "VALIDATION_ERROR")
