"""Playlists on the legacy app: visibility, owner-or-admin writes, ordered entries."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from shared.auth.tokens import issue_token
from shared.clock import utcnow
from shared.db.models import Playlist, PlaylistEntry
from tests.conftest import assert_error
from tests.factories import add_entry, make_artist, make_playlist, make_video, table_rows

ROUTES = [
    ("get", "/api/playlists", "readonly"),
    ("post", "/api/playlists", "user"),
    ("get", "/api/playlists/{id}", "readonly"),
    ("put", "/api/playlists/{id}", "user"),
    ("delete", "/api/playlists/{id}", "user"),
    ("post", "/api/playlists/{id}/videos", "user"),
    ("delete", "/api/playlists/{id}/videos/{entry}", "user"),
    ("post", "/api/playlists/{id}/videos/reorder", "user"),
]


@pytest.fixture
def as_role(make_user, settings):
    """A new user of `role` and the headers that authenticate as them."""

    def make(role="user"):
        user = make_user(role)
        token = issue_token(settings, user.id, user.role)["access_token"]
        return user, {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def library(db_session):
    """Three videos by one artist, in id order."""
    artist = make_artist(db_session, name="Band")
    return [make_video(db_session, artist, title=f"Song {i}") for i in range(3)]


def entry_rows(db_session: Session, playlist_id: int) -> list[tuple[int, int]]:
    rows = [r for r in table_rows(db_session, PlaylistEntry) if r["playlist_id"] == playlist_id]
    return sorted((r["position"], r["video_id"]) for r in rows)


@pytest.mark.parametrize(("method", "path", "level"), ROUTES)
def test_auth_levels(client, as_role, db_session, library, method, path, level):
    owner, _ = as_role("admin")
    playlist = make_playlist(db_session, owner, name="Kept", is_public=True)
    entry = add_entry(db_session, playlist, library[0], 0)
    path = path.format(id=playlist.id, entry=entry.id)
    call = getattr(client, method)
    payload = {"name": "Changed", "video_id": library[1].id, "entry_ids": [entry.id]}
    assert_error(call(path, json=payload), 401, "AUTH_REQUIRED")
    if level == "user":
        _, headers = as_role("readonly")
        assert_error(call(path, json=payload, headers=headers), 403, "FORBIDDEN")
    assert [p["name"] for p in table_rows(db_session, Playlist)] == ["Kept"]
    assert entry_rows(db_session, playlist.id) == [(0, library[0].id)]


# --- reads ---------------------------------------------------------------------------


def test_list_shows_own_and_public(client, as_role, db_session, library):
    me, headers = as_role("readonly")
    other, _ = as_role("user")
    mine = make_playlist(db_session, me, name="Mine")
    theirs_public = make_playlist(db_session, other, name="Shared", is_public=True)
    make_playlist(db_session, other, name="Secret")
    add_entry(db_session, theirs_public, library[0], 0)
    add_entry(db_session, theirs_public, library[1], 1)
    body = client.get("/api/playlists", headers=headers).get_json()
    assert [p["id"] for p in body["playlists"]] == [mine.id, theirs_public.id]
    assert [p["video_count"] for p in body["playlists"]] == [0, 2]
    shared = body["playlists"][1]
    assert shared["owner_id"] == other.id and shared["is_public"] is True
    assert set(shared) >= {"id", "name", "description", "is_public", "owner_id", "video_count"}


def test_admin_lists_every_playlist(client, as_role, db_session):
    other, _ = as_role("user")
    make_playlist(db_session, other, name="Secret")
    _, headers = as_role("admin")
    body = client.get("/api/playlists", headers=headers).get_json()
    assert [p["name"] for p in body["playlists"]] == ["Secret"]


def test_get_with_ordered_entries(client, as_role, db_session, library):
    me, headers = as_role("readonly")
    playlist = make_playlist(db_session, me, description="d")
    second = add_entry(db_session, playlist, library[0], 1)
    first = add_entry(db_session, playlist, library[2], 0)
    body = client.get(f"/api/playlists/{playlist.id}", headers=headers).get_json()
    assert body["video_count"] == 2 and body["description"] == "d"
    assert body["entries"] == [
        {
            "id": first.id,
            "video_id": library[2].id,
            "position": 0,
            "title": "Song 2",
            "artist_name": "Band",
        },
        {
            "id": second.id,
            "video_id": library[0].id,
            "position": 1,
            "title": "Song 0",
            "artist_name": "Band",
        },
    ]


def test_get_visibility(client, as_role, db_session):
    other, _ = as_role("user")
    secret = make_playlist(db_session, other, name="Secret")
    public = make_playlist(db_session, other, name="Public", is_public=True)
    _, headers = as_role("manager")
    assert_error(client.get(f"/api/playlists/{secret.id}", headers=headers), 404, "NOT_FOUND")
    assert client.get(f"/api/playlists/{public.id}", headers=headers).status_code == 200
    _, admin = as_role("admin")
    assert client.get(f"/api/playlists/{secret.id}", headers=admin).status_code == 200
    for missing in ("999999", "99999999999999999999999"):
        assert_error(client.get(f"/api/playlists/{missing}", headers=admin), 404, "NOT_FOUND")


# --- create, update, delete ----------------------------------------------------------------


def test_create(client, as_role, db_session):
    me, headers = as_role("user")
    response = client.post(
        "/api/playlists",
        headers=headers,
        json={"name": " Road trip ", "description": "long", "is_public": True},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "Road trip" and body["owner_id"] == me.id and body["is_public"] is True
    assert body["entries"] == [] and body["video_count"] == 0
    assert [p["id"] for p in table_rows(db_session, Playlist)] == [body["id"]]


def test_create_defaults_and_duplicates(client, as_role, db_session):
    _, headers = as_role("user")
    body = client.post("/api/playlists", headers=headers, json={"name": "Mix"}).get_json()
    assert body["is_public"] is False and body["description"] is None
    assert_error(
        client.post("/api/playlists", headers=headers, json={"name": "Mix"}), 409, "CONFLICT"
    )
    # Another user may have a playlist of the same name.
    _, other = as_role("user")
    assert client.post("/api/playlists", headers=other, json={"name": "Mix"}).status_code == 201
    assert len(table_rows(db_session, Playlist)) == 2


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"name": ""},
        {"name": "  "},
        {"name": "x" * 256},
        {"name": 1},
        {"name": None},
        {"name": "ok", "is_public": "true"},
        {"name": "ok", "is_public": 1},
        {"name": "ok", "description": 5},
        {"name": "ok", "description": "x" * 5001},
    ],
)
def test_create_rejects_bad_input(client, as_role, db_session, payload):
    _, headers = as_role("user")
    assert_error(
        client.post("/api/playlists", headers=headers, json=payload), 400, "VALIDATION_ERROR"
    )
    assert_error(
        client.post("/api/playlists", headers=headers, data="{", content_type="application/json"),
        400,
        "BAD_REQUEST",
    )
    assert table_rows(db_session, Playlist) == []


def test_update_by_owner_is_partial(client, as_role, db_session):
    me, headers = as_role("user")
    playlist = make_playlist(db_session, me, name="Old", description="keep")
    response = client.put(
        f"/api/playlists/{playlist.id}", headers=headers, json={"name": "New", "is_public": True}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["description"], body["is_public"]) == ("New", "keep", True)
    assert body["entries"] == []
    response = client.put(
        f"/api/playlists/{playlist.id}", headers=headers, json={"description": None}
    )
    assert response.get_json()["description"] is None


def test_update_rules_change_nothing_when_refused(client, as_role, db_session):
    owner, owner_headers = as_role("user")
    public = make_playlist(db_session, owner, name="Public", is_public=True)
    secret = make_playlist(db_session, owner, name="Secret")
    before = table_rows(db_session, Playlist)
    _, stranger = as_role("manager")
    assert_error(
        client.put(f"/api/playlists/{public.id}", headers=stranger, json={"name": "Mine now"}),
        403,
        "FORBIDDEN",
    )
    assert_error(
        client.put(f"/api/playlists/{secret.id}", headers=stranger, json={"name": "Mine now"}),
        404,
        "NOT_FOUND",
    )
    assert_error(
        client.put(f"/api/playlists/{public.id}", headers=owner_headers, json={"name": "Secret"}),
        409,
        "CONFLICT",
    )
    for payload in ({"name": None}, {"is_public": None}, {"name": ""}, {"is_public": "no"}):
        assert_error(
            client.put(f"/api/playlists/{public.id}", headers=owner_headers, json=payload),
            400,
            "VALIDATION_ERROR",
        )
    assert_error(
        client.put("/api/playlists/999999", headers=owner_headers, json={}), 404, "NOT_FOUND"
    )
    assert table_rows(db_session, Playlist) == before


def _backdate(db_session: Session, playlist_id: int) -> datetime:
    """Set the playlist's updated_at an hour back (and return it): a write that bumps it
    is then seen, whatever the clock's resolution."""
    past = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    db_session.execute(update(Playlist).where(Playlist.id == playlist_id).values(updated_at=past))
    db_session.commit()
    return past


def _updated_at(db_session: Session, playlist_id: int) -> datetime:
    (row,) = [r for r in table_rows(db_session, Playlist) if r["id"] == playlist_id]
    stamp: datetime = row["updated_at"]
    return stamp


def test_an_update_to_the_same_values_leaves_updated_at(client, as_role, db_session, library):
    me, headers = as_role("user")
    playlist = make_playlist(db_session, me, name="Same", description="d", is_public=True)
    url = f"/api/playlists/{playlist.id}"
    past = _backdate(db_session, playlist.id)
    same = {"name": "Same", "description": "d", "is_public": True}
    response = client.put(url, headers=headers, json=same)
    assert response.status_code == 200
    assert _updated_at(db_session, playlist.id) == past
    assert response.get_json()["updated_at"] == past.strftime("%Y-%m-%dT%H:%M:%SZ")
    # A real change bumps it, and so does a change to the entries (the playlist's content).
    assert client.put(url, headers=headers, json={"is_public": False}).status_code == 200
    assert _updated_at(db_session, playlist.id) > past
    past = _backdate(db_session, playlist.id)
    added = client.post(f"{url}/videos", headers=headers, json={"video_id": library[0].id})
    assert added.status_code == 201 and _updated_at(db_session, playlist.id) > past


def test_admin_may_update_and_rename_within_the_owner(client, as_role, db_session):
    owner, _ = as_role("user")
    make_playlist(db_session, owner, name="Taken")
    playlist = make_playlist(db_session, owner, name="Secret")
    admin, headers = as_role("admin")
    make_playlist(db_session, admin, name="Admin's")
    # The name must be free among the owner's playlists, not the admin's.
    assert_error(
        client.put(f"/api/playlists/{playlist.id}", headers=headers, json={"name": "Taken"}),
        409,
        "CONFLICT",
    )
    response = client.put(
        f"/api/playlists/{playlist.id}", headers=headers, json={"name": "Admin's"}
    )
    assert response.status_code == 200 and response.get_json()["owner_id"] == owner.id


def test_delete(client, as_role, db_session, library):
    owner, owner_headers = as_role("user")
    public = make_playlist(db_session, owner, is_public=True)
    secret = make_playlist(db_session, owner)
    add_entry(db_session, public, library[0], 0)
    _, stranger = as_role("manager")
    assert_error(client.delete(f"/api/playlists/{public.id}", headers=stranger), 403, "FORBIDDEN")
    assert_error(client.delete(f"/api/playlists/{secret.id}", headers=stranger), 404, "NOT_FOUND")
    assert len(table_rows(db_session, Playlist)) == 2
    response = client.delete(f"/api/playlists/{public.id}", headers=owner_headers)
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert table_rows(db_session, PlaylistEntry) == []
    _, admin = as_role("admin")
    assert client.delete(f"/api/playlists/{secret.id}", headers=admin).status_code == 200
    assert table_rows(db_session, Playlist) == []


# --- entries -------------------------------------------------------------------------


def test_add_appends_and_inserts(client, as_role, db_session, library):
    me, headers = as_role("user")
    playlist = make_playlist(db_session, me)
    url = f"/api/playlists/{playlist.id}/videos"
    response = client.post(url, headers=headers, json={"video_id": library[0].id})
    assert response.status_code == 201
    body = response.get_json()
    assert body["video_count"] == 1 and body["entries"][0]["video_id"] == library[0].id
    client.post(url, headers=headers, json={"video_id": library[1].id, "position": 0})
    body = client.post(
        url, headers=headers, json={"video_id": library[2].id, "position": 1}
    ).get_json()
    order = [library[1].id, library[2].id, library[0].id]
    assert [e["video_id"] for e in body["entries"]] == order
    assert [e["position"] for e in body["entries"]] == [0, 1, 2]
    assert entry_rows(db_session, playlist.id) == list(enumerate(order))


def test_add_at_the_end_by_position(client, as_role, db_session, library):
    me, headers = as_role("user")
    playlist = make_playlist(db_session, me)
    add_entry(db_session, playlist, library[0], 0)
    response = client.post(
        f"/api/playlists/{playlist.id}/videos",
        headers=headers,
        json={"video_id": library[1].id, "position": 1},
    )
    assert response.status_code == 201
    assert entry_rows(db_session, playlist.id) == [(0, library[0].id), (1, library[1].id)]


def test_add_rejections_change_nothing(client, as_role, db_session, library):
    me, headers = as_role("user")
    playlist = make_playlist(db_session, me)
    add_entry(db_session, playlist, library[0], 0)
    url = f"/api/playlists/{playlist.id}/videos"
    assert_error(
        client.post(url, headers=headers, json={"video_id": library[0].id}), 409, "CONFLICT"
    )
    for payload in (
        {},
        {"video_id": 999_999},
        {"video_id": "1"},
        {"video_id": None},
        {"video_id": 2**64},
        {"video_id": library[1].id, "position": 2},
        {"video_id": library[1].id, "position": -1},
        {"video_id": library[1].id, "position": "0"},
        {"video_id": library[1].id, "position": True},
    ):
        assert_error(client.post(url, headers=headers, json=payload), 400, "VALIDATION_ERROR")
    assert_error(
        client.post(url, headers=headers, data="nope", content_type="application/json"),
        400,
        "BAD_REQUEST",
    )
    assert_error(
        client.post(
            "/api/playlists/999999/videos", headers=headers, json={"video_id": library[1].id}
        ),
        404,
        "NOT_FOUND",
    )
    assert entry_rows(db_session, playlist.id) == [(0, library[0].id)]


def test_only_owner_or_admin_adds(client, as_role, db_session, library):
    owner, _ = as_role("user")
    public = make_playlist(db_session, owner, is_public=True)
    secret = make_playlist(db_session, owner)
    _, stranger = as_role("user")
    payload = {"video_id": library[0].id}
    assert_error(
        client.post(f"/api/playlists/{public.id}/videos", headers=stranger, json=payload),
        403,
        "FORBIDDEN",
    )
    assert_error(
        client.post(f"/api/playlists/{secret.id}/videos", headers=stranger, json=payload),
        404,
        "NOT_FOUND",
    )
    assert table_rows(db_session, PlaylistEntry) == []
    _, admin = as_role("admin")
    response = client.post(f"/api/playlists/{secret.id}/videos", headers=admin, json=payload)
    assert response.status_code == 201


def test_remove_entry_closes_the_gap(client, as_role, db_session, library):
    me, headers = as_role("user")
    playlist = make_playlist(db_session, me)
    entries = [add_entry(db_session, playlist, video, i) for i, video in enumerate(library)]
    response = client.delete(
        f"/api/playlists/{playlist.id}/videos/{entries[1].id}", headers=headers
    )
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert entry_rows(db_session, playlist.id) == [(0, library[0].id), (1, library[2].id)]


def test_remove_entry_refusals(client, as_role, db_session, library):
    me, headers = as_role("user")
    mine = make_playlist(db_session, me)
    other_of_mine = make_playlist(db_session, me)
    entry = add_entry(db_session, other_of_mine, library[0], 0)
    assert_error(
        client.delete(f"/api/playlists/{mine.id}/videos/{entry.id}", headers=headers),
        404,
        "NOT_FOUND",
    )
    assert_error(
        client.delete(f"/api/playlists/{mine.id}/videos/999999", headers=headers), 404, "NOT_FOUND"
    )
    stranger_owner, _ = as_role("user")
    public = make_playlist(db_session, stranger_owner, is_public=True)
    public_entry = add_entry(db_session, public, library[1], 0)
    assert_error(
        client.delete(f"/api/playlists/{public.id}/videos/{public_entry.id}", headers=headers),
        403,
        "FORBIDDEN",
    )
    assert len(table_rows(db_session, PlaylistEntry)) == 2


def test_reorder(client, as_role, db_session, library):
    me, headers = as_role("user")
    playlist = make_playlist(db_session, me)
    entries = [add_entry(db_session, playlist, video, i) for i, video in enumerate(library)]
    new_order = [entries[2].id, entries[0].id, entries[1].id]
    response = client.post(
        f"/api/playlists/{playlist.id}/videos/reorder",
        headers=headers,
        json={"entry_ids": new_order},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert [e["id"] for e in body["entries"]] == new_order
    assert [e["position"] for e in body["entries"]] == [0, 1, 2]
    assert entry_rows(db_session, playlist.id) == [
        (0, library[2].id),
        (1, library[0].id),
        (2, library[1].id),
    ]


def test_reorder_of_an_empty_playlist(client, as_role, db_session):
    me, headers = as_role("user")
    playlist = make_playlist(db_session, me)
    response = client.post(
        f"/api/playlists/{playlist.id}/videos/reorder", headers=headers, json={"entry_ids": []}
    )
    assert response.status_code == 200 and response.get_json()["entries"] == []


def test_reorder_needs_an_exact_permutation(client, as_role, db_session, library):
    me, headers = as_role("user")
    playlist = make_playlist(db_session, me)
    entries = [add_entry(db_session, playlist, video, i) for i, video in enumerate(library[:2])]
    foreign = add_entry(db_session, make_playlist(db_session, me), library[2], 0)
    a, b = entries[0].id, entries[1].id
    url = f"/api/playlists/{playlist.id}/videos/reorder"
    for ids in (
        [b],
        [b, a, a],
        [b, b],
        [b, foreign.id],
        [b, a, foreign.id],
        ["1", "2"],
        [b, 2**64],
        None,
        "ab",
    ):
        assert_error(
            client.post(url, headers=headers, json={"entry_ids": ids}), 400, "VALIDATION_ERROR"
        )
    assert_error(client.post(url, headers=headers, json={}), 400, "VALIDATION_ERROR")
    _, stranger = as_role("user")
    assert_error(client.post(url, headers=stranger, json={"entry_ids": [b, a]}), 404, "NOT_FOUND")
    assert entry_rows(db_session, playlist.id) == [(0, library[0].id), (1, library[1].id)]
