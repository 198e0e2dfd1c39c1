"""Artists on the legacy app: the paged list, one artist, create, update, delete, bulk delete."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.clock import utcnow
from shared.db.models import ROLES, Artist, Download, Playlist, PlaylistEntry, Video
from shared.pagination import PAGE_MAX
from tests.conftest import assert_error
from tests.factories import add_entry, make_artist, make_playlist, make_video, table_rows

ROUTES = [
    ("get", "/api/artists", "readonly"),
    ("post", "/api/artists", "manager"),
    ("get", "/api/artists/{id}", "readonly"),
    ("put", "/api/artists/{id}", "manager"),
    ("delete", "/api/artists/{id}", "admin"),
    ("get", "/api/artists/{id}/videos", "readonly"),
    ("post", "/api/artists/bulk-delete", "admin"),
]


@pytest.mark.parametrize(("method", "path", "level"), ROUTES)
def test_auth_levels(client, bearer, db_session, method, path, level):
    artist = make_artist(db_session, name="Kept")
    path = path.format(id=artist.id)
    call = getattr(client, method)
    payload = {"name": "X", "ids": [artist.id]}
    assert_error(call(path, json=payload), 401, "AUTH_REQUIRED")
    if level != "readonly":
        below = ROLES[ROLES.index(level) - 1]
        response = call(path, json=payload, headers=bearer(below))
        assert_error(response, 403, "FORBIDDEN")
    assert [a["name"] for a in table_rows(db_session, Artist)] == ["Kept"]


def test_session_cookie_is_enough_to_read(client, login, db_session):
    make_artist(db_session, name="Cookie")
    login("readonly")
    assert client.get("/api/artists").get_json()["total"] == 1


# --- list ----------------------------------------------------------------------------


def test_list_envelope_and_video_counts(client, bearer, db_session):
    busy = make_artist(db_session, name="Busy", genres=["pop"], imvdb_id=7)
    make_artist(db_session, name="Idle", monitored=False)
    for _ in range(3):
        make_video(db_session, busy)
    body = client.get("/api/artists", headers=bearer("readonly")).get_json()
    assert {k: body[k] for k in ("count", "total", "page", "per_page", "pages")} == {
        "count": 2,
        "total": 2,
        "page": 1,
        "per_page": 50,
        "pages": 1,
    }
    first = body["artists"][0]
    assert first["name"] == "Busy" and first["video_count"] == 3
    assert first["genres"] == ["pop"] and first["imvdb_id"] == 7 and first["monitored"] is True
    assert set(first) >= {"id", "thumbnail_url", "created_at", "updated_at"}
    assert first["created_at"].endswith("Z")
    assert body["artists"][1]["video_count"] == 0
    assert "thumbnail_path" not in first


def test_paging_edges(client, bearer, db_session):
    for i in range(5):
        make_artist(db_session, name=f"A{i}")
    headers = bearer("readonly")

    def names(query: str) -> tuple[list[str], dict[str, Any]]:
        body = client.get(f"/api/artists?{query}", headers=headers).get_json()
        return [a["name"] for a in body["artists"]], body

    assert names("per_page=2&page=1")[0] == ["A0", "A1"]
    last, body = names("per_page=2&page=3")
    assert last == ["A4"] and body["pages"] == 3 and body["count"] == 1 and body["total"] == 5
    beyond, body = names("per_page=2&page=4")
    assert beyond == [] and body["total"] == 5 and body["page"] == 4
    assert len(names("per_page=200")[0]) == 5
    # The last page there can be, at the largest page size: an empty page.
    farthest, body = names(f"per_page=200&page={PAGE_MAX}")
    assert farthest == [] and body["page"] == PAGE_MAX and body["pages"] == 1


@pytest.mark.parametrize(
    "query",
    [
        "per_page=201",
        "per_page=0",
        "per_page=-1",
        "page=0",
        "page=-2",
        "page=abc",
        "per_page=1.5",
        "page=1e3",
        # Pages whose offset would pass a 64-bit integer (was a 500).
        f"page={PAGE_MAX + 1}",
        "page=9223372036854775807",
        "page=99999999999999999999999",
        "sort=bogus",
        "sort=--name",
        "monitored=yes",
        "monitored=2",
        "search=" + "x" * 201,
    ],
)
def test_bad_query_params(client, bearer, query):
    assert_error(
        client.get(f"/api/artists?{query}", headers=bearer("readonly")), 400, "VALIDATION_ERROR"
    )


def test_sorts_end_with_id(client, bearer, db_session):
    now = utcnow()
    b = make_artist(db_session, name="b", created_at=now, updated_at=now)
    a = make_artist(db_session, name="a", created_at=now, updated_at=now - timedelta(days=2))
    c = make_artist(db_session, name="C", created_at=now - timedelta(days=1), updated_at=now)
    make_video(db_session, a)
    make_video(db_session, a)
    make_video(db_session, c)
    headers = bearer("readonly")

    def ids(sort: str) -> list[int]:
        body = client.get(f"/api/artists?sort={sort}", headers=headers).get_json()
        return [x["id"] for x in body["artists"]]

    # Names sort by code point on both databases: "C" before "a".
    assert ids("name") == [c.id, a.id, b.id]
    assert ids("-name") == [b.id, a.id, c.id]
    assert ids("id") == [b.id, a.id, c.id]
    assert ids("-id") == [c.id, a.id, b.id]
    assert ids("created_at") == [c.id, b.id, a.id]
    assert ids("-created_at") == [a.id, b.id, c.id]
    assert ids("video_count") == [b.id, c.id, a.id]
    assert ids("-video_count") == [a.id, c.id, b.id]
    assert ids("updated_at") == [a.id, b.id, c.id]
    assert ids("-updated_at") == [c.id, b.id, a.id]


def test_filters(client, bearer, db_session):
    make_artist(db_session, name="Monitored One")
    make_artist(db_session, name="Quiet", monitored=False)
    headers = bearer("readonly")

    def names(query: str) -> tuple[list[str], int]:
        body = client.get(f"/api/artists?{query}", headers=headers).get_json()
        return [a["name"] for a in body["artists"]], body["total"]

    assert names("monitored=true") == (["Monitored One"], 1)
    assert names("monitored=1") == (["Monitored One"], 1)
    assert names("monitored=false") == (["Quiet"], 1)
    assert names("monitored=0") == (["Quiet"], 1)
    assert names("search=ONE") == (["Monitored One"], 1)
    assert names("search=qui&monitored=true") == ([], 0)


def test_search_treats_wildcards_literally(client, bearer, db_session):
    for name in ("100% Pure", "100 Pure", "a_b", "axb", "AC/DC", "ACxDC"):
        make_artist(db_session, name=name)
    headers = bearer("readonly")

    def names(term: str) -> list[str]:
        response = client.get("/api/artists", query_string={"search": term}, headers=headers)
        return sorted(a["name"] for a in response.get_json()["artists"])

    assert names("%") == ["100% Pure"]
    assert names("0% p") == ["100% Pure"]
    assert names("a_b") == ["a_b"]
    assert names("_") == ["a_b"]
    assert names("c/d") == ["AC/DC"]
    assert names("pure") == ["100 Pure", "100% Pure"]


# --- one artist ------------------------------------------------------------------------


def test_get_with_counts_by_status(client, bearer, db_session):
    artist = make_artist(db_session, name="Counted")
    make_video(db_session, artist, status="downloaded")
    make_video(db_session, artist, status="downloaded")
    make_video(db_session, artist, status="failed")
    body = client.get(f"/api/artists/{artist.id}", headers=bearer("readonly")).get_json()
    assert body["name"] == "Counted" and body["video_count"] == 3
    assert body["video_counts"] == {
        "wanted": 0,
        "downloading": 0,
        "downloaded": 2,
        "ignored": 0,
        "failed": 1,
    }


@pytest.mark.parametrize("artist_id", ["999", "99999999999999999999999"])
def test_unknown_artist_is_404(client, bearer, artist_id):
    headers = bearer("admin")
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(f"/api/artists/{artist_id}", json={}, headers=headers)
        assert_error(response, 404, "NOT_FOUND")
    assert_error(client.get(f"/api/artists/{artist_id}/videos", headers=headers), 404, "NOT_FOUND")


def test_artist_videos(client, bearer, db_session):
    artist = make_artist(db_session, name="Lister")
    other = make_artist(db_session)
    first = make_video(db_session, artist, title="One")
    second = make_video(db_session, artist, title="Two", file_path="/x.mp4")
    make_video(db_session, other)
    body = client.get(f"/api/artists/{artist.id}/videos", headers=bearer("readonly")).get_json()
    assert body["count"] == 2
    assert [v["id"] for v in body["videos"]] == [first.id, second.id]
    assert body["videos"][0]["artist_name"] == "Lister"
    assert body["videos"][1]["has_file"] is True and "file_path" not in body["videos"][1]


# --- create and update -----------------------------------------------------------------


def test_create(client, bearer, db_session):
    response = client.post(
        "/api/artists",
        headers=bearer("manager"),
        json={
            "name": "  New Artist ",
            "imvdb_id": 42,
            "thumbnail_url": "https://img.example/a.jpg",
            "monitored": False,
            "genres": ["rock", "pop"],
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "New Artist" and body["imvdb_id"] == 42 and body["monitored"] is False
    assert body["genres"] == ["rock", "pop"] and body["video_count"] == 0
    stored = table_rows(db_session, Artist)
    assert len(stored) == 1 and stored[0]["id"] == body["id"]


def test_create_defaults(client, bearer):
    body = client.post("/api/artists", headers=bearer("manager"), json={"name": "Plain"}).get_json()
    assert body["monitored"] is True and body["genres"] == [] and body["imvdb_id"] is None
    assert body["thumbnail_url"] is None


def test_create_duplicates_are_409(client, bearer, db_session):
    make_artist(db_session, name="Queen", imvdb_id=5)
    headers = bearer("manager")
    assert_error(
        client.post("/api/artists", headers=headers, json={"name": "QUEEN"}), 409, "CONFLICT"
    )
    assert_error(
        client.post("/api/artists", headers=headers, json={"name": "Other", "imvdb_id": 5}),
        409,
        "CONFLICT",
    )
    assert len(table_rows(db_session, Artist)) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 256},
        {"name": 5},
        {"name": None},
        {"name": "ok", "imvdb_id": "5"},
        {"name": "ok", "imvdb_id": True},
        {"name": "ok", "imvdb_id": 0},
        {"name": "ok", "imvdb_id": 2**64},
        {"name": "ok", "thumbnail_url": "ftp://host/x.jpg"},
        {"name": "ok", "thumbnail_url": "javascript:alert(1)"},
        {"name": "ok", "thumbnail_url": "http://"},
        {"name": "ok", "thumbnail_url": "http://host/a b"},
        {"name": "ok", "monitored": "yes"},
        {"name": "ok", "monitored": 1},
        {"name": "ok", "genres": "rock"},
        {"name": "ok", "genres": [1]},
        {"name": "ok", "genres": [""]},
        {"name": "ok", "genres": None},
    ],
)
def test_create_rejects_bad_input(client, bearer, db_session, payload):
    assert_error(
        client.post("/api/artists", headers=bearer("manager"), json=payload),
        400,
        "VALIDATION_ERROR",
    )
    assert table_rows(db_session, Artist) == []


def test_create_rejects_malformed_json(client, bearer, db_session):
    headers = bearer("manager")
    assert_error(
        client.post("/api/artists", headers=headers, data="{nope", content_type="application/json"),
        400,
        "BAD_REQUEST",
    )
    assert_error(
        client.post("/api/artists", headers=headers, json=["name"]), 400, "VALIDATION_ERROR"
    )
    assert table_rows(db_session, Artist) == []


def test_update_is_partial(client, bearer, db_session):
    artist = make_artist(db_session, name="Before", genres=["a"], imvdb_id=3)
    make_video(db_session, artist)
    response = client.put(
        f"/api/artists/{artist.id}",
        headers=bearer("manager"),
        json={"name": "After", "thumbnail_url": None},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "After" and body["genres"] == ["a"] and body["imvdb_id"] == 3
    assert body["video_count"] == 1
    assert table_rows(db_session, Artist)[0]["name"] == "After"


def test_update_may_change_own_name_case(client, bearer, db_session):
    artist = make_artist(db_session, name="abba")
    response = client.put(
        f"/api/artists/{artist.id}", headers=bearer("manager"), json={"name": "ABBA"}
    )
    assert response.status_code == 200 and response.get_json()["name"] == "ABBA"


def test_update_conflicts_and_bad_input_change_nothing(client, bearer, db_session):
    make_artist(db_session, name="Taken", imvdb_id=9)
    artist = make_artist(db_session, name="Mine")
    before = table_rows(db_session, Artist)
    headers = bearer("manager")
    url = f"/api/artists/{artist.id}"
    assert_error(client.put(url, headers=headers, json={"name": "taken"}), 409, "CONFLICT")
    assert_error(client.put(url, headers=headers, json={"imvdb_id": 9}), 409, "CONFLICT")
    for payload in (
        {"name": None},
        {"monitored": None},
        {"genres": None},
        {"name": ""},
        {"monitored": "false"},
        {"thumbnail_url": "file:///etc/passwd"},
    ):
        assert_error(client.put(url, headers=headers, json=payload), 400, "VALIDATION_ERROR")
    assert_error(
        client.put(url, headers=headers, data="[", content_type="application/json"),
        400,
        "BAD_REQUEST",
    )
    assert table_rows(db_session, Artist) == before


# --- delete --------------------------------------------------------------------------


def test_delete_cascades_to_videos_entries_and_downloads(client, bearer, db_session, make_user):
    doomed = make_artist(db_session, name="Doomed")
    kept = make_artist(db_session, name="Kept")
    doomed_video = make_video(db_session, doomed)
    kept_video = make_video(db_session, kept)
    playlist = make_playlist(db_session, make_user("user"))
    add_entry(db_session, playlist, doomed_video, 0)
    add_entry(db_session, playlist, kept_video, 1)
    db_session.add(Download(video_id=doomed_video.id))
    db_session.commit()
    doomed_id, kept_video_id = doomed.id, kept_video.id

    response = client.delete(f"/api/artists/{doomed_id}", headers=bearer("admin"))
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert [a["name"] for a in table_rows(db_session, Artist)] == ["Kept"]
    assert [v["id"] for v in table_rows(db_session, Video)] == [kept_video_id]
    assert [e["video_id"] for e in table_rows(db_session, PlaylistEntry)] == [kept_video_id]
    assert table_rows(db_session, Download) == []
    assert len(table_rows(db_session, Playlist)) == 1


def test_bulk_delete(client, bearer, db_session):
    artists = [make_artist(db_session) for _ in range(3)]
    make_video(db_session, artists[0])
    ids = [artists[0].id, artists[1].id, 999_999, artists[0].id]
    response = client.post("/api/artists/bulk-delete", headers=bearer("admin"), json={"ids": ids})
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "deleted": 2}
    assert [a["id"] for a in table_rows(db_session, Artist)] == [artists[2].id]
    assert table_rows(db_session, Video) == []


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"ids": []},
        {"ids": "1"},
        {"ids": ["1"]},
        {"ids": [True]},
        {"ids": [1.5]},
        {"ids": [0]},
        {"ids": [2**64]},
        {"ids": list(range(1, 1002))},
        {"ids": None},
    ],
)
def test_bulk_delete_rejects_bad_ids(client, bearer, db_session, payload):
    artist = make_artist(db_session)
    response = client.post("/api/artists/bulk-delete", headers=bearer("admin"), json=payload)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert [a["id"] for a in table_rows(db_session, Artist)] == [artist.id]


def test_bulk_delete_accepts_a_thousand_ids(client, bearer, db_session):
    artist = make_artist(db_session)
    ids = [artist.id, *range(10_000, 10_999)]
    response = client.post("/api/artists/bulk-delete", headers=bearer("admin"), json={"ids": ids})
    assert response.get_json() == {"success": True, "deleted": 1}


def test_search_folds_non_ascii_case_on_both_databases(client, login, db_session):
    from tests.factories import make_artist

    login("readonly")
    make_artist(db_session, name="Émilie Simon")
    make_artist(db_session, name="Zoë Keating")
    names = [a["name"] for a in client.get("/api/artists?search=émilie").get_json()["artists"]]
    assert names == ["Émilie Simon"]
    names = [a["name"] for a in client.get("/api/artists?search=ZOË").get_json()["artists"]]
    assert names == ["Zoë Keating"]
