"""Videos on the legacy app: list, search, one video, create, update, status, delete."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy.orm import Session

from shared.db.models import ROLES, Artist, PlaylistEntry, Video
from shared.pagination import OFFSET_MAX
from tests.conftest import assert_error
from tests.factories import add_entry, make_artist, make_playlist, make_video, table_rows

ROUTES = [
    ("get", "/api/videos", "readonly"),
    ("get", "/api/videos/search?q=x", "readonly"),
    ("post", "/api/videos", "manager"),
    ("get", "/api/videos/{id}", "readonly"),
    ("put", "/api/videos/{id}", "manager"),
    ("delete", "/api/videos/{id}", "manager"),
    ("put", "/api/videos/{id}/status", "user"),
    ("post", "/api/videos/bulk/status", "manager"),
    ("post", "/api/videos/bulk/delete", "admin"),
]


@pytest.mark.parametrize(("method", "path", "level"), ROUTES)
def test_auth_levels(client, bearer, db_session, method, path, level):
    video = make_video(db_session, make_artist(db_session), title="Kept")
    path = path.format(id=video.id)
    call = getattr(client, method)
    payload = {
        "status": "ignored",
        "ids": [video.id],
        "title": "Changed",
        "artist_id": video.artist_id,
    }
    assert_error(call(path, json=payload), 401, "AUTH_REQUIRED")
    if level != "readonly":
        below = ROLES[ROLES.index(level) - 1]
        assert_error(call(path, json=payload, headers=bearer(below)), 403, "FORBIDDEN")
    rows = table_rows(db_session, Video)
    assert [(v["title"], v["status"]) for v in rows] == [("Kept", "wanted")]


# --- list ----------------------------------------------------------------------------


def test_list_envelope(client, bearer, db_session):
    artist = make_artist(db_session, name="Singer")
    video = make_video(
        db_session,
        artist,
        title="Hit",
        year=1999,
        duration=200,
        imvdb_id=11,
        url="https://v.example/1",
        file_path="/media/x.mp4",
    )
    body = client.get("/api/videos", headers=bearer("readonly")).get_json()
    assert {k: body[k] for k in ("count", "total", "offset", "limit")} == {
        "count": 1,
        "total": 1,
        "offset": 0,
        "limit": 50,
    }
    item = body["videos"][0]
    assert item["id"] == video.id and item["artist_id"] == artist.id
    assert item["artist_name"] == "Singer" and item["title"] == "Hit"
    assert (item["year"], item["duration"], item["imvdb_id"]) == (1999, 200, 11)
    assert item["url"] == "https://v.example/1" and item["status"] == "wanted"
    assert item["has_file"] is True and item["thumbnail_url"] is None
    assert "file_path" not in item and "/media/x.mp4" not in str(body)


def test_paging_edges(client, bearer, db_session):
    artist = make_artist(db_session)
    ids = [make_video(db_session, artist).id for _ in range(5)]
    headers = bearer("readonly")

    def page(query: str) -> tuple[list[int], dict[str, Any]]:
        body = client.get(f"/api/videos?{query}", headers=headers).get_json()
        return [v["id"] for v in body["videos"]], body

    assert page("limit=2")[0] == ids[:2]
    last, body = page("limit=2&offset=4")
    assert last == ids[4:] and body["count"] == 1 and body["total"] == 5
    beyond, body = page("limit=2&offset=10")
    assert beyond == [] and body["total"] == 5 and body["offset"] == 10
    assert page("limit=500")[0] == ids
    assert page("limit=1")[0] == ids[:1]
    # The largest offset there is, with the largest page after it: an empty page.
    farthest, body = page(f"limit=500&offset={OFFSET_MAX}")
    assert farthest == [] and body["offset"] == OFFSET_MAX and body["total"] == 5


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=501",
        "limit=-1",
        "limit=abc",
        "offset=-1",
        "offset=1.5",
        # Past a 64-bit offset: the database driver cannot take it (was a 500).
        "offset=9223372036854775808",
        "offset=99999999999999999999",
        "status=done",
        "status=WANTED",
        "artist_id=abc",
        "artist_id=0",
        "artist_id=-3",
        "artist_id=99999999999999999999999",
        "sort=artist",
        "sort=-title",
        "order=up",
    ],
)
def test_bad_query_params(client, bearer, query):
    assert_error(
        client.get(f"/api/videos?{query}", headers=bearer("readonly")), 400, "VALIDATION_ERROR"
    )


def test_filters_and_sorts(client, bearer, db_session):
    one = make_artist(db_session)
    two = make_artist(db_session)
    a = make_video(db_session, one, title="b", year=2001, status="downloaded")
    b = make_video(db_session, one, title="a", year=None, status="wanted")
    c = make_video(db_session, two, title="C", year=2001, status="downloaded")
    headers = bearer("readonly")

    def ids(query: str) -> tuple[list[int], int]:
        body = client.get(f"/api/videos?{query}", headers=headers).get_json()
        return [v["id"] for v in body["videos"]], body["total"]

    assert ids("status=downloaded") == ([a.id, c.id], 2)
    assert ids(f"artist_id={one.id}") == ([a.id, b.id], 2)
    assert ids(f"artist_id={two.id}&status=wanted") == ([], 0)
    assert ids("artist_id=424242") == ([], 0)
    assert ids("sort=title")[0] == [c.id, b.id, a.id]
    assert ids("sort=title&order=desc")[0] == [a.id, b.id, c.id]
    # NULL years first ascending, ties broken by id, on both databases.
    assert ids("sort=year")[0] == [b.id, a.id, c.id]
    assert ids("sort=year&order=desc")[0] == [c.id, a.id, b.id]
    assert ids("sort=status")[0] == [a.id, c.id, b.id]
    assert ids("order=desc")[0] == [c.id, b.id, a.id]
    assert ids("sort=created_at")[0] == [a.id, b.id, c.id]
    assert ids("sort=updated_at&order=desc")[0] == [c.id, b.id, a.id]


# --- search --------------------------------------------------------------------------


def test_search_title_and_artist_name(client, bearer, db_session):
    band = make_artist(db_session, name="The Wildcards")
    other = make_artist(db_session, name="Someone")
    by_artist = make_video(db_session, band, title="Plain")
    by_title = make_video(db_session, other, title="wild thing")
    make_video(db_session, other, title="Unrelated")
    response = client.get("/api/videos/search?q=WILD", headers=bearer("readonly"))
    body = response.get_json()
    assert body["query"] == "WILD" and body["count"] == 2
    assert [v["id"] for v in body["videos"]] == [by_artist.id, by_title.id]
    assert body["videos"][0]["artist_name"] == "The Wildcards"


def test_search_treats_wildcards_literally(client, bearer, db_session):
    artist = make_artist(db_session, name="Plain")
    for title in ("50% off", "50 off", "a_b", "axb"):
        make_video(db_session, artist, title=title)
    headers = bearer("readonly")

    def titles(q: str) -> list[str]:
        response = client.get("/api/videos/search", query_string={"q": q}, headers=headers)
        return sorted(v["title"] for v in response.get_json()["videos"])

    assert titles("%") == ["50% off"]
    assert titles("_") == ["a_b"]
    assert titles("a_b") == ["a_b"]
    assert titles("  50  ") == ["50 off", "50% off"]


def test_search_limit(client, bearer, db_session):
    artist = make_artist(db_session, name="Many")
    for _ in range(3):
        make_video(db_session, artist)
    body = client.get("/api/videos/search?q=many&limit=2", headers=bearer("readonly")).get_json()
    assert body["count"] == 2


@pytest.mark.parametrize(
    "query",
    [
        "",
        "q=",
        "q=%20%20",
        "q=" + "x" * 201,
        "q=a&limit=0",
        "q=a&limit=501",
        "q=a&limit=x",
        "q=a&offset=99999999999999999999",
    ],
)
def test_search_rejects_bad_query(client, bearer, query):
    assert_error(
        client.get(f"/api/videos/search?{query}", headers=bearer("readonly")),
        400,
        "VALIDATION_ERROR",
    )


# --- one video, create, update -----------------------------------------------------------


@pytest.mark.parametrize("video_id", ["999", "99999999999999999999999"])
def test_unknown_video_is_404(client, bearer, video_id):
    headers = bearer("admin")
    for method, path in (("get", ""), ("put", ""), ("delete", ""), ("put", "/status")):
        response = getattr(client, method)(
            f"/api/videos/{video_id}{path}", json={"status": "wanted"}, headers=headers
        )
        assert_error(response, 404, "NOT_FOUND")


def test_get_video(client, bearer, db_session):
    video = make_video(db_session, make_artist(db_session, name="Solo"), title="Song")
    body = client.get(f"/api/videos/{video.id}", headers=bearer("readonly")).get_json()
    assert body["title"] == "Song" and body["artist_name"] == "Solo" and body["has_file"] is False


def test_create(client, bearer, db_session):
    artist = make_artist(db_session, name="Maker")
    payload = {
        "artist_id": artist.id,
        "title": " Song ",
        "url": "https://v.example/s",
        "imvdb_id": 77,
        "year": 2100,
        "duration": 0,
        "status": "ignored",
        "thumbnail_url": "http://img.example/t.jpg",
    }
    response = client.post("/api/videos", headers=bearer("manager"), json=payload)
    assert response.status_code == 201
    body = response.get_json()
    assert body["title"] == "Song" and body["artist_name"] == "Maker"
    assert (body["year"], body["duration"], body["status"]) == (2100, 0, "ignored")
    assert body["has_file"] is False
    assert [v["id"] for v in table_rows(db_session, Video)] == [body["id"]]


def test_create_defaults(client, bearer, db_session):
    artist = make_artist(db_session)
    body = client.post(
        "/api/videos", headers=bearer("manager"), json={"artist_id": artist.id, "title": "Bare"}
    ).get_json()
    assert body["status"] == "wanted" and body["url"] is None and body["year"] is None


def test_create_duplicates(client, bearer, db_session):
    artist = make_artist(db_session)
    other = make_artist(db_session)
    make_video(db_session, artist, title="Same", imvdb_id=5)
    headers = bearer("manager")
    assert_error(
        client.post("/api/videos", headers=headers, json={"artist_id": artist.id, "title": "Same"}),
        409,
        "CONFLICT",
    )
    assert_error(
        client.post(
            "/api/videos",
            headers=headers,
            json={"artist_id": other.id, "title": "New", "imvdb_id": 5},
        ),
        409,
        "CONFLICT",
    )
    assert len(table_rows(db_session, Video)) == 1
    # The same title under another artist is a different video.
    response = client.post(
        "/api/videos", headers=headers, json={"artist_id": other.id, "title": "Same"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "change",
    [
        {"artist_id": None},
        {"artist_id": "1"},
        {"artist_id": 999_999},
        {"artist_id": 2**64},
        {"title": ""},
        {"title": "x" * 256},
        {"title": None},
        {"title": 3},
        {"url": "file:///etc/passwd"},
        {"url": "ftp://h/x"},
        {"url": "https://h/" + "x" * 2048},
        {"imvdb_id": -1},
        {"imvdb_id": "7"},
        {"year": 1899},
        {"year": 2101},
        {"year": 2000.0},
        {"duration": -1},
        {"duration": 2**31},
        {"status": "done"},
        {"status": None},
        {"thumbnail_url": "data:image/png;base64,AAAA"},
    ],
)
def test_create_rejects_bad_input(client, bearer, db_session, change):
    artist = make_artist(db_session)
    payload = {"artist_id": artist.id, "title": "Fine", **change}
    assert_error(
        client.post("/api/videos", headers=bearer("manager"), json=payload), 400, "VALIDATION_ERROR"
    )
    assert table_rows(db_session, Video) == []


def test_create_rejects_malformed_json(client, bearer, db_session):
    response = client.post(
        "/api/videos", headers=bearer("manager"), data="{", content_type="application/json"
    )
    assert_error(response, 400, "BAD_REQUEST")
    assert table_rows(db_session, Video) == []


def test_update_is_partial(client, bearer, db_session):
    artist = make_artist(db_session, name="First")
    second = make_artist(db_session, name="Second")
    video = make_video(db_session, artist, title="Old", year=1990, url="https://v.example/o")
    response = client.put(
        f"/api/videos/{video.id}",
        headers=bearer("manager"),
        json={"title": "New", "year": None, "artist_id": second.id},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["title"] == "New" and body["year"] is None and body["artist_name"] == "Second"
    assert body["url"] == "https://v.example/o"
    row = table_rows(db_session, Video)[0]
    assert (row["title"], row["year"], row["artist_id"]) == ("New", None, second.id)


def test_update_conflicts_and_bad_input_change_nothing(client, bearer, db_session):
    artist = make_artist(db_session)
    elsewhere = make_artist(db_session)
    make_video(db_session, artist, title="Taken", imvdb_id=8)
    make_video(db_session, elsewhere, title="Mine")
    video = make_video(db_session, artist, title="Mine")
    before = table_rows(db_session, Video)
    headers = bearer("manager")
    url = f"/api/videos/{video.id}"
    assert_error(client.put(url, headers=headers, json={"title": "Taken"}), 409, "CONFLICT")
    assert_error(client.put(url, headers=headers, json={"imvdb_id": 8}), 409, "CONFLICT")
    # Moving it to an artist that already has a video of that title collides too.
    assert_error(
        client.put(url, headers=headers, json={"artist_id": elsewhere.id}), 409, "CONFLICT"
    )
    assert_error(
        client.put(url, headers=headers, json={"artist_id": 123_456}), 400, "VALIDATION_ERROR"
    )
    for payload in ({"title": None}, {"status": None}, {"year": "2000"}, {"status": "gone"}):
        assert_error(client.put(url, headers=headers, json=payload), 400, "VALIDATION_ERROR")
    assert table_rows(db_session, Video) == before


def test_update_keeping_own_title_and_imvdb_id(client, bearer, db_session):
    video = make_video(db_session, make_artist(db_session), title="Same", imvdb_id=4)
    response = client.put(
        f"/api/videos/{video.id}",
        headers=bearer("manager"),
        json={"title": "Same", "imvdb_id": 4, "duration": 5},
    )
    assert response.status_code == 200 and response.get_json()["duration"] == 5


# --- status --------------------------------------------------------------------------


def test_set_status(client, bearer, db_session):
    video = make_video(db_session, make_artist(db_session))
    response = client.put(
        f"/api/videos/{video.id}/status", headers=bearer("user"), json={"status": "ignored"}
    )
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert table_rows(db_session, Video)[0]["status"] == "ignored"


@pytest.mark.parametrize("payload", [{}, {"status": "done"}, {"status": None}, {"status": 1}])
def test_set_status_rejects_bad_input(client, bearer, db_session, payload):
    video = make_video(db_session, make_artist(db_session))
    response = client.put(f"/api/videos/{video.id}/status", headers=bearer("user"), json=payload)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert table_rows(db_session, Video)[0]["status"] == "wanted"


def test_bulk_status(client, bearer, db_session):
    artist = make_artist(db_session)
    videos = [make_video(db_session, artist) for _ in range(3)]
    ids = [videos[0].id, videos[1].id, 999_999]
    response = client.post(
        "/api/videos/bulk/status", headers=bearer("manager"), json={"ids": ids, "status": "failed"}
    )
    assert response.get_json() == {"success": True, "updated": 2}
    assert [v["status"] for v in table_rows(db_session, Video)] == ["failed", "failed", "wanted"]


@pytest.mark.parametrize(
    "payload",
    [
        {"ids": [1]},
        {"ids": [1], "status": "done"},
        {"ids": [], "status": "failed"},
        {"ids": ["1"], "status": "failed"},
        {"ids": [True], "status": "failed"},
        {"ids": list(range(1, 1002)), "status": "failed"},
        {"status": "failed"},
        {"ids": [2**64], "status": "failed"},
    ],
)
def test_bulk_status_rejects_bad_input(client, bearer, db_session, payload):
    make_video(db_session, make_artist(db_session))
    response = client.post("/api/videos/bulk/status", headers=bearer("manager"), json=payload)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert [v["status"] for v in table_rows(db_session, Video)] == ["wanted"]


# --- delete --------------------------------------------------------------------------


def test_bulk_delete(client, bearer, db_session, make_user):
    artist = make_artist(db_session)
    videos = [make_video(db_session, artist) for _ in range(3)]
    add_entry(db_session, make_playlist(db_session, make_user()), videos[0], 0)
    ids = [videos[0].id, videos[2].id, 999_999]
    response = client.post("/api/videos/bulk/delete", headers=bearer("admin"), json={"ids": ids})
    assert response.get_json() == {"success": True, "deleted": 2}
    assert [v["id"] for v in table_rows(db_session, Video)] == [videos[1].id]
    assert table_rows(db_session, PlaylistEntry) == []
    assert len(table_rows(db_session, Artist)) == 1


@pytest.mark.parametrize("payload", [{}, {"ids": []}, {"ids": [1.0]}, {"ids": "all"}])
def test_bulk_delete_rejects_bad_ids(client, bearer, db_session, payload):
    make_video(db_session, make_artist(db_session))
    response = client.post("/api/videos/bulk/delete", headers=bearer("admin"), json=payload)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert len(table_rows(db_session, Video)) == 1


def _video_with_file(db_session: Session, stored_path: str) -> Video:
    # SQLite reuses the id of a row the app deleted: forget the old object first.
    db_session.expunge_all()
    return make_video(db_session, make_artist(db_session), file_path=stored_path)


def test_delete_keeps_the_file_by_default(client, bearer, db_session, settings):
    settings.media_dir.mkdir(parents=True)
    media_file = settings.media_dir / "keep.mp4"
    media_file.write_bytes(b"video")
    video = _video_with_file(db_session, str(media_file))
    response = client.delete(f"/api/videos/{video.id}", headers=bearer("manager"))
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert table_rows(db_session, Video) == [] and media_file.exists()


@pytest.mark.parametrize("flag", ["1", "true"])
def test_delete_file_inside_media_dir(client, bearer, db_session, settings, flag):
    (settings.media_dir / "sub").mkdir(parents=True)
    absolute = settings.media_dir / "sub" / "a.mp4"
    relative = settings.media_dir / "b.mp4"
    absolute.write_bytes(b"a")
    relative.write_bytes(b"b")
    headers = bearer("manager")
    for stored, path in ((str(absolute), absolute), ("b.mp4", relative)):
        video = _video_with_file(db_session, stored)
        response = client.delete(f"/api/videos/{video.id}?delete_file={flag}", headers=headers)
        assert response.get_json() == {"success": True}
        assert not path.exists()
    assert table_rows(db_session, Video) == []


def test_delete_file_never_leaves_media_dir(client, bearer, db_session, settings, tmp_path):
    settings.media_dir.mkdir(parents=True)
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"precious")
    link = settings.media_dir / "link.mp4"
    os.symlink(outside, link)
    headers = bearer("manager")
    for stored in (str(outside), "../outside.mp4", "link.mp4", str(settings.media_dir), "."):
        video = _video_with_file(db_session, stored)
        response = client.delete(f"/api/videos/{video.id}?delete_file=1", headers=headers)
        assert response.get_json() == {"success": True}
        assert outside.read_bytes() == b"precious"
    assert link.is_symlink() and settings.media_dir.is_dir()
    assert table_rows(db_session, Video) == []


def test_delete_file_with_missing_file_still_deletes_the_row(client, bearer, db_session, settings):
    video = _video_with_file(db_session, "gone.mp4")
    response = client.delete(f"/api/videos/{video.id}?delete_file=1", headers=bearer("manager"))
    assert response.get_json() == {"success": True}
    assert table_rows(db_session, Video) == []


def test_delete_rejects_a_bad_flag(client, bearer, db_session, settings):
    settings.media_dir.mkdir(parents=True)
    media_file = settings.media_dir / "keep.mp4"
    media_file.write_bytes(b"video")
    video = _video_with_file(db_session, str(media_file))
    response = client.delete(
        f"/api/videos/{video.id}?delete_file=please", headers=bearer("manager")
    )
    assert_error(response, 400, "VALIDATION_ERROR")
    assert len(table_rows(db_session, Video)) == 1 and media_file.exists()
