"""Phase 3: playlists."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from parity.demo.scenario import ADMIN, MANAGER, READONLY, USER, Scenario
from shared.db.models import Artist, Playlist, PlaylistEntry, Video

# Fixed ids, so paths can name the rows `_library` inserts.
ROAD_TRIP = 1  # USER's, private: entries 1 (video 2, position 1) and 2 (video 1, position 0)
SHARED = 2  # USER's, public: entry 3 (video 3)
SECRET = 3  # MANAGER's, private, empty
ADMIN_PICKS = 4  # ADMIN's, public: entry 4 (video 4, by another artist)
READONLY_OWN = 5  # READONLY's, private, empty: a readonly user may own, not write
EMPTY = 6  # USER's, private, empty
ADDED_AT = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)


def _library(session: Session, now: datetime) -> None:
    session.add_all(
        [
            Artist(id=1, name="Band", genres=[], created_at=now, updated_at=now),
            Artist(id=2, name="Other Band", genres=["pop"], created_at=now, updated_at=now),
        ]
    )
    session.flush()
    session.add_all(
        [
            Video(id=1, artist_id=1, title="Song 1", created_at=now, updated_at=now),
            Video(id=2, artist_id=1, title="Song 2", created_at=now, updated_at=now),
            Video(id=3, artist_id=1, title="Song 3", created_at=now, updated_at=now),
            Video(id=4, artist_id=2, title="Hit", created_at=now, updated_at=now),
            Video(id=5, artist_id=2, title="B-side", created_at=now, updated_at=now),
        ]
    )
    playlists = [
        (ROAD_TRIP, "Road trip", "long drives", False, USER),
        (SHARED, "Shared", None, True, USER),
        (SECRET, "Secret", None, False, MANAGER),
        (ADMIN_PICKS, "Admin picks", "the best", True, ADMIN),
        (READONLY_OWN, "Mine", None, False, READONLY),
        (EMPTY, "Empty", None, False, USER),
    ]
    session.add_all(
        Playlist(
            id=pid,
            name=name,
            description=description,
            is_public=public,
            owner_id=owner,
            created_at=now,
            updated_at=now,
        )
        for pid, name, description, public, owner in playlists
    )
    session.flush()
    # Entry ids out of position order, so an answer ordered by id would show.
    entries = [
        (1, ROAD_TRIP, 2, 1),
        (2, ROAD_TRIP, 1, 0),
        (3, SHARED, 3, 0),
        (4, ADMIN_PICKS, 4, 0),
    ]
    session.add_all(
        PlaylistEntry(id=eid, playlist_id=pid, video_id=vid, position=pos, added_at=ADDED_AT)
        for eid, pid, vid, pos in entries
    )


def _three_entries(session: Session, now: datetime) -> None:
    """The library, plus a third entry (5: video 3, position 2) on ROAD_TRIP."""
    _library(session, now)
    session.flush()
    session.add(
        PlaylistEntry(id=5, playlist_id=ROAD_TRIP, video_id=3, position=2, added_at=ADDED_AT)
    )


# Fresh values each side writes at its own moment.
CREATED = (
    "created_at",
    "updated_at",
    "rows.playlists.*.created_at",
    "rows.playlists.*.updated_at",
)
TOUCHED = ("updated_at", "rows.playlists.*.updated_at")
ENTRY_ADDED = (*TOUCHED, "rows.playlist_entries.*.added_at")
# A write that answers only {"success": true} shows the touch in the rows alone.
TOUCHED_ROWS = ("rows.playlists.*.updated_at",)

LIST = "GET /api/playlists"
CREATE = "POST /api/playlists"
GET = "GET /api/playlists/<int:playlist_id>"
UPDATE = "PUT /api/playlists/<int:playlist_id>"
DELETE = "DELETE /api/playlists/<int:playlist_id>"
ADD = "POST /api/playlists/<int:playlist_id>/videos"
REMOVE = "DELETE /api/playlists/<int:playlist_id>/videos/<int:entry_id>"
REORDER = "POST /api/playlists/<int:playlist_id>/videos/reorder"

HUGE_ID = "99999999999999999999999"  # beyond any id column: still a plain 404

_LIST: tuple[Scenario, ...] = (
    Scenario(LIST, "anonymous", "/api/playlists", arrange=_library),
    Scenario(LIST, "readonly: own and public", "/api/playlists", role="readonly", arrange=_library),
    Scenario(LIST, "user: own and public", "/api/playlists", role="user", arrange=_library),
    Scenario(LIST, "manager: own and public", "/api/playlists", role="manager", arrange=_library),
    Scenario(LIST, "admin: every playlist", "/api/playlists", role="admin", arrange=_library),
    Scenario(
        LIST, "user with a token", "/api/playlists", role="user", auth="bearer", arrange=_library
    ),
    Scenario(LIST, "none at all", "/api/playlists", role="user"),
)

NEW = {"name": "  Night drive ", "description": "after dark", "is_public": True}

_CREATE: tuple[Scenario, ...] = (
    Scenario(CREATE, "anonymous", "/api/playlists", json=NEW),
    Scenario(CREATE, "readonly", "/api/playlists", role="readonly", json=NEW),
    Scenario(
        CREATE,
        "user creates",
        "/api/playlists",
        role="user",
        json=NEW,
        arrange=_library,
        volatile=CREATED,
    ),
    Scenario(
        CREATE,
        "defaults",
        "/api/playlists",
        role="user",
        auth="bearer",
        json={"name": "Mix"},
        volatile=CREATED,
    ),
    Scenario(
        CREATE,
        "a name another user has",
        "/api/playlists",
        role="user",
        json={"name": "Secret"},
        arrange=_library,
        volatile=CREATED,
    ),
    Scenario(
        CREATE,
        "a name the caller has",
        "/api/playlists",
        role="user",
        json={"name": " Road trip"},
        arrange=_library,
    ),
    Scenario(CREATE, "malformed JSON", "/api/playlists", role="user", raw=b"{"),
    Scenario(CREATE, "not an object", "/api/playlists", role="user", json=["Mix"]),
    Scenario(CREATE, "no name", "/api/playlists", role="user", json={"is_public": True}),
    Scenario(CREATE, "blank name", "/api/playlists", role="user", json={"name": "   "}),
    Scenario(
        CREATE,
        "is_public as a string",
        "/api/playlists",
        role="user",
        json={"name": "Mix", "is_public": "true"},
    ),
)

_GET: tuple[Scenario, ...] = (
    Scenario(GET, "anonymous", f"/api/playlists/{SHARED}", arrange=_library),
    Scenario(
        GET,
        "owner, entries in position order",
        f"/api/playlists/{ROAD_TRIP}",
        role="user",
        arrange=_library,
    ),
    Scenario(
        GET,
        "readonly reads a public one",
        f"/api/playlists/{ADMIN_PICKS}",
        role="readonly",
        arrange=_library,
    ),
    Scenario(
        GET,
        "another user's private one",
        f"/api/playlists/{ROAD_TRIP}",
        role="manager",
        arrange=_library,
    ),
    Scenario(
        GET,
        "admin reads a private one",
        f"/api/playlists/{SECRET}",
        role="admin",
        auth="bearer",
        arrange=_library,
    ),
    Scenario(GET, "empty", f"/api/playlists/{EMPTY}", role="user", arrange=_library),
    Scenario(GET, "unknown", "/api/playlists/999", role="admin", arrange=_library),
    Scenario(GET, "huge id", f"/api/playlists/{HUGE_ID}", role="admin"),
)

_UPDATE: tuple[Scenario, ...] = (
    Scenario(UPDATE, "anonymous", f"/api/playlists/{SHARED}", json={"name": "X"}, arrange=_library),
    Scenario(
        UPDATE,
        "readonly, even on its own",
        f"/api/playlists/{READONLY_OWN}",
        role="readonly",
        json={"name": "X"},
        arrange=_library,
    ),
    Scenario(
        UPDATE,
        "owner renames and publishes",
        f"/api/playlists/{ROAD_TRIP}",
        role="user",
        json={"name": " Long trip ", "is_public": True},
        arrange=_library,
        volatile=TOUCHED,
    ),
    Scenario(
        UPDATE,
        "owner clears the description",
        f"/api/playlists/{ROAD_TRIP}",
        role="user",
        json={"description": None},
        arrange=_library,
        volatile=TOUCHED,
    ),
    # Nothing changes, so no UPDATE runs and updated_at stays: nothing volatile.
    Scenario(
        UPDATE,
        "nothing to change",
        f"/api/playlists/{ROAD_TRIP}",
        role="user",
        json={},
        arrange=_library,
    ),
    Scenario(
        UPDATE,
        "another user's public one",
        f"/api/playlists/{SHARED}",
        role="manager",
        json={"name": "Mine now"},
        arrange=_library,
    ),
    Scenario(
        UPDATE,
        "another user's private one",
        f"/api/playlists/{SECRET}",
        role="user",
        json={"name": "Mine now"},
        arrange=_library,
    ),
    # The name must be free among the owner's playlists, not the admin's.
    Scenario(
        UPDATE,
        "admin renames within the owner",
        f"/api/playlists/{SECRET}",
        role="admin",
        json={"name": "Admin picks"},
        arrange=_library,
        volatile=TOUCHED,
    ),
    Scenario(
        UPDATE,
        "a name the owner has",
        f"/api/playlists/{ROAD_TRIP}",
        role="user",
        json={"name": "Shared"},
        arrange=_library,
    ),
    Scenario(
        UPDATE,
        "null name",
        f"/api/playlists/{ROAD_TRIP}",
        role="user",
        json={"name": None},
        arrange=_library,
    ),
    Scenario(
        UPDATE,
        "malformed JSON",
        f"/api/playlists/{ROAD_TRIP}",
        role="user",
        raw=b"{",
        arrange=_library,
    ),
    Scenario(UPDATE, "unknown", "/api/playlists/999", role="user", json={}, arrange=_library),
)

_DELETE: tuple[Scenario, ...] = (
    Scenario(DELETE, "anonymous", f"/api/playlists/{ROAD_TRIP}", arrange=_library),
    Scenario(
        DELETE,
        "readonly, even on its own",
        f"/api/playlists/{READONLY_OWN}",
        role="readonly",
        arrange=_library,
    ),
    Scenario(
        DELETE,
        "owner, entries go with it",
        f"/api/playlists/{ROAD_TRIP}",
        role="user",
        arrange=_library,
    ),
    Scenario(
        DELETE,
        "admin deletes a private one",
        f"/api/playlists/{SECRET}",
        role="admin",
        arrange=_library,
    ),
    Scenario(
        DELETE,
        "another user's public one",
        f"/api/playlists/{SHARED}",
        role="manager",
        arrange=_library,
    ),
    Scenario(
        DELETE,
        "another user's private one",
        f"/api/playlists/{SECRET}",
        role="user",
        arrange=_library,
    ),
    Scenario(DELETE, "unknown", "/api/playlists/999", role="admin", arrange=_library),
)


ADD_PATH = f"/api/playlists/{ROAD_TRIP}/videos"

_ADD: tuple[Scenario, ...] = (
    Scenario(ADD, "anonymous", ADD_PATH, json={"video_id": 3}, arrange=_library),
    Scenario(
        ADD,
        "readonly, even on its own",
        f"/api/playlists/{READONLY_OWN}/videos",
        role="readonly",
        json={"video_id": 3},
        arrange=_library,
    ),
    Scenario(
        ADD,
        "owner appends",
        ADD_PATH,
        role="user",
        json={"video_id": 5},
        arrange=_library,
        volatile=ENTRY_ADDED,
    ),
    Scenario(
        ADD,
        "owner inserts first",
        ADD_PATH,
        role="user",
        json={"video_id": 5, "position": 0},
        arrange=_library,
        volatile=ENTRY_ADDED,
    ),
    Scenario(
        ADD,
        "admin adds to a private one",
        f"/api/playlists/{SECRET}/videos",
        role="admin",
        json={"video_id": 4},
        arrange=_library,
        volatile=ENTRY_ADDED,
    ),
    Scenario(ADD, "already in it", ADD_PATH, role="user", json={"video_id": 1}, arrange=_library),
    Scenario(ADD, "unknown video", ADD_PATH, role="user", json={"video_id": 999}, arrange=_library),
    Scenario(
        ADD,
        "position past the end",
        ADD_PATH,
        role="user",
        json={"video_id": 5, "position": 3},
        arrange=_library,
    ),
    Scenario(
        ADD, "video_id as a string", ADD_PATH, role="user", json={"video_id": "5"}, arrange=_library
    ),
    Scenario(ADD, "no video_id", ADD_PATH, role="user", json={"position": 0}, arrange=_library),
    Scenario(ADD, "malformed JSON", ADD_PATH, role="user", raw=b"nope", arrange=_library),
    Scenario(
        ADD,
        "another user's public one",
        f"/api/playlists/{SHARED}/videos",
        role="manager",
        json={"video_id": 5},
        arrange=_library,
    ),
    Scenario(
        ADD,
        "another user's private one",
        f"/api/playlists/{SECRET}/videos",
        role="user",
        json={"video_id": 5},
        arrange=_library,
    ),
    Scenario(
        ADD,
        "unknown playlist",
        "/api/playlists/999/videos",
        role="user",
        json={"video_id": 5},
        arrange=_library,
    ),
)

_REMOVE: tuple[Scenario, ...] = (
    Scenario(REMOVE, "anonymous", f"/api/playlists/{ROAD_TRIP}/videos/1", arrange=_library),
    Scenario(
        REMOVE,
        "readonly",
        f"/api/playlists/{ROAD_TRIP}/videos/1",
        role="readonly",
        arrange=_library,
    ),
    Scenario(
        REMOVE,
        "owner closes the gap",
        f"/api/playlists/{ROAD_TRIP}/videos/1",
        role="user",
        arrange=_three_entries,
        volatile=TOUCHED_ROWS,
    ),
    Scenario(
        REMOVE,
        "the last entry",
        f"/api/playlists/{SHARED}/videos/3",
        role="user",
        auth="bearer",
        arrange=_library,
        volatile=TOUCHED_ROWS,
    ),
    Scenario(
        REMOVE,
        "admin, from another's playlist",
        f"/api/playlists/{ROAD_TRIP}/videos/2",
        role="admin",
        arrange=_library,
        volatile=TOUCHED_ROWS,
    ),
    Scenario(
        REMOVE,
        "an entry of another playlist",
        f"/api/playlists/{ROAD_TRIP}/videos/3",
        role="user",
        arrange=_library,
    ),
    Scenario(
        REMOVE,
        "unknown entry",
        f"/api/playlists/{ROAD_TRIP}/videos/999",
        role="user",
        arrange=_library,
    ),
    Scenario(
        REMOVE,
        "another user's public one",
        f"/api/playlists/{ADMIN_PICKS}/videos/4",
        role="manager",
        arrange=_library,
    ),
    Scenario(
        REMOVE,
        "another user's private one",
        f"/api/playlists/{ROAD_TRIP}/videos/1",
        role="manager",
        arrange=_library,
    ),
    Scenario(
        REMOVE, "unknown playlist", "/api/playlists/999/videos/1", role="user", arrange=_library
    ),
)

REORDER_PATH = f"/api/playlists/{ROAD_TRIP}/videos/reorder"

_REORDER: tuple[Scenario, ...] = (
    Scenario(REORDER, "anonymous", REORDER_PATH, json={"entry_ids": [1, 2]}, arrange=_library),
    Scenario(
        REORDER,
        "readonly",
        REORDER_PATH,
        role="readonly",
        json={"entry_ids": [1, 2]},
        arrange=_library,
    ),
    Scenario(
        REORDER,
        "owner reorders",
        REORDER_PATH,
        role="user",
        json={"entry_ids": [5, 1, 2]},
        arrange=_three_entries,
        volatile=TOUCHED,
    ),
    Scenario(
        REORDER,
        "admin, another's private one",
        f"/api/playlists/{SECRET}/videos/reorder",
        role="admin",
        json={"entry_ids": []},
        arrange=_library,
        volatile=TOUCHED,
    ),
    Scenario(
        REORDER,
        "an entry missing",
        REORDER_PATH,
        role="user",
        json={"entry_ids": [1]},
        arrange=_library,
    ),
    Scenario(
        REORDER,
        "an entry twice",
        REORDER_PATH,
        role="user",
        json={"entry_ids": [1, 2, 2]},
        arrange=_library,
    ),
    Scenario(
        REORDER,
        "an entry of another playlist",
        REORDER_PATH,
        role="user",
        json={"entry_ids": [1, 3]},
        arrange=_library,
    ),
    Scenario(
        REORDER,
        "ids as strings",
        REORDER_PATH,
        role="user",
        json={"entry_ids": ["1", "2"]},
        arrange=_library,
    ),
    Scenario(REORDER, "no entry_ids", REORDER_PATH, role="user", json={}, arrange=_library),
    Scenario(REORDER, "malformed JSON", REORDER_PATH, role="user", raw=b"{", arrange=_library),
    Scenario(
        REORDER,
        "another user's public one",
        f"/api/playlists/{SHARED}/videos/reorder",
        role="manager",
        json={"entry_ids": [3]},
        arrange=_library,
    ),
    Scenario(
        REORDER,
        "another user's private one",
        REORDER_PATH,
        role="manager",
        json={"entry_ids": [2, 1]},
        arrange=_library,
    ),
    Scenario(
        REORDER,
        "unknown playlist",
        "/api/playlists/999/videos/reorder",
        role="user",
        json={"entry_ids": []},
        arrange=_library,
    ),
)

SCENARIOS: tuple[Scenario, ...] = (
    *_LIST,
    *_CREATE,
    *_GET,
    *_UPDATE,
    *_DELETE,
    *_ADD,
    *_REMOVE,
    *_REORDER,
)
