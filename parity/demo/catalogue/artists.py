"""Phase 3: artists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from parity.demo.scenario import USER, Scenario
from shared.db.models import Artist, Download, Playlist, PlaylistEntry, Video
from shared.pagination import PAGE_MAX

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def library(session: Session, now: datetime) -> None:
    """Five artists (one without videos), videos of several statuses, one of them with a
    file, in a playlist and downloaded: enough for sorts, counts and cascades."""
    session.add_all(
        [
            Artist(
                id=1,
                name="Abba",
                imvdb_id=11,
                thumbnail_url="https://img.example/abba.jpg",
                monitored=True,
                genres=["pop", "disco"],
                created_at=T0,
                updated_at=T0 + 3 * DAY,
            ),
            Artist(
                id=2,
                name="beck",
                monitored=False,
                genres=["rock"],
                created_at=T0 + DAY,
                updated_at=T0 + DAY,
            ),
            # "C" sorts before "a": code points on both databases.
            Artist(id=3, name="Cher", imvdb_id=33, created_at=T0 + 2 * DAY, updated_at=T0),
            Artist(id=4, name="100% Pure", genres=[], created_at=T0, updated_at=T0),
            Artist(id=5, name="Émilie Simon", monitored=False, created_at=now, updated_at=now),
        ]
    )
    session.flush()
    session.add_all(
        [
            Video(
                id=1,
                artist_id=1,
                title="Dancing Queen",
                url="https://v.example/dq",
                imvdb_id=101,
                year=1976,
                duration=231,
                status="downloaded",
                file_path="abba/dancing-queen.mp4",
                file_size=1234,
                created_at=T0,
                updated_at=T0,
            ),
            Video(id=2, artist_id=1, title="Waterloo", year=1974, created_at=T0, updated_at=T0),
            Video(
                id=3,
                artist_id=1,
                title="SOS",
                status="failed",
                thumbnail_url="https://img.example/sos.jpg",
                created_at=T0 + DAY,
                updated_at=T0 + DAY,
            ),
            Video(
                id=4,
                artist_id=2,
                title="Loser",
                year=1993,
                status="downloaded",
                created_at=now,
                updated_at=now,
            ),
            Video(id=5, artist_id=3, title="Believe", year=1998, created_at=T0, updated_at=T0),
            Video(
                id=6,
                artist_id=2,
                title="Queen Bitch (cover)",
                status="ignored",
                created_at=T0,
                updated_at=T0,
            ),
            # % and _ are literals in a search.
            Video(id=7, artist_id=3, title="50%_Off", created_at=T0, updated_at=T0),
        ]
    )
    session.add(
        Playlist(
            id=1, name="Favourites", owner_id=USER, is_public=True, created_at=T0, updated_at=T0
        )
    )
    session.flush()
    session.add_all(
        [
            PlaylistEntry(playlist_id=1, video_id=1, position=0, added_at=T0),
            PlaylistEntry(playlist_id=1, video_id=4, position=1, added_at=T0),
            Download(
                video_id=1,
                requested_by=USER,
                status="completed",
                progress=100,
                file_path="abba/dancing-queen.mp4",
                file_size=1234,
                created_at=T0,
                started_at=T0,
                finished_at=T0,
            ),
        ]
    )


def _many_artists(session: Session, now: datetime) -> None:
    session.add_all(
        Artist(name=f"Artist {i:02d}", created_at=now, updated_at=now) for i in range(1, 8)
    )


# Each side writes these at its own moment: they may differ by the second that passes.
CREATED = (
    "created_at",
    "updated_at",
    "rows.artists.*.created_at",
    "rows.artists.*.updated_at",
)
UPDATED = ("updated_at", "rows.artists.*.updated_at")

LIST = "GET /api/artists"
CREATE = "POST /api/artists"
ONE = "GET /api/artists/<int:artist_id>"
UPDATE = "PUT /api/artists/<int:artist_id>"
DELETE = "DELETE /api/artists/<int:artist_id>"
VIDEOS = "GET /api/artists/<int:artist_id>/videos"
BULK = "POST /api/artists/bulk-delete"
HUGE_ID = "99999999999999999999999"
NEW_ARTIST = {
    "name": "  New Artist ",
    "imvdb_id": 42,
    "thumbnail_url": "https://img.example/new.jpg",
    "monitored": False,
    "genres": ["rock", "pop"],
}


def _list(
    name: str, query: str = "", role: str | None = "readonly", auth: str = "cookie"
) -> Scenario:
    """A read of the list over the library."""
    return Scenario(LIST, name, f"/api/artists{query}", role=role, auth=auth, arrange=library)


SCENARIOS: tuple[Scenario, ...] = (
    # --- GET /api/artists ----------------------------------------------------------------
    _list("anonymous", role=None),
    Scenario(LIST, "empty", "/api/artists", role="readonly"),
    _list("readonly, by name"),
    _list("bearer token", role="admin", auth="bearer"),
    Scenario(
        LIST, "second page", "/api/artists?per_page=3&page=2", role="user", arrange=_many_artists
    ),
    Scenario(
        LIST,
        "page beyond the last",
        "/api/artists?per_page=3&page=9",
        arrange=_many_artists,
        role="readonly",
    ),
    _list("per_page at its bound", "?per_page=200"),
    _list("per_page over its bound", "?per_page=201"),
    _list("page not a number", "?page=abc"),
    _list("page zero", "?page=0"),
    # The last page whose offset a database takes, and the ones past it (were a 500).
    _list("the last page there can be", f"?per_page=200&page={PAGE_MAX}"),
    _list("page past the last there can be", f"?page={PAGE_MAX + 1}"),
    _list("page at 64 bits", "?page=9223372036854775807"),
    _list("page beyond 64 bits", "?page=99999999999999999999999"),
    _list("repeated key: the first wins", "?per_page=2&per_page=3"),
    _list("sort by video count, reversed", "?sort=-video_count"),
    _list("sort by updated_at", "?sort=updated_at"),
    _list("unknown sort", "?sort=bogus"),
    _list("search, case-insensitive, monitored only", "?search=ABB&monitored=true"),
    _list("search with a literal %", "?search=%25"),
    _list("search non-ASCII", "?search=%C3%A9milie"),
    _list("monitored=0", "?monitored=0"),
    _list("monitored not a flag", "?monitored=yes"),
    _list("search too long", "?search=" + "x" * 201),
    # --- POST /api/artists ---------------------------------------------------------------
    Scenario(CREATE, "anonymous", "/api/artists", json=NEW_ARTIST),
    Scenario(CREATE, "user", "/api/artists", role="user", json=NEW_ARTIST),
    Scenario(
        CREATE,
        "manager creates",
        "/api/artists",
        role="manager",
        json=NEW_ARTIST,
        arrange=library,
        volatile=CREATED,
    ),
    Scenario(
        CREATE,
        "defaults, bearer admin",
        "/api/artists",
        role="admin",
        auth="bearer",
        json={"name": "Plain"},
        volatile=CREATED,
    ),
    Scenario(
        CREATE,
        "duplicate name, other case",
        "/api/artists",
        role="manager",
        json={"name": "ABBA"},
        arrange=library,
    ),
    Scenario(
        CREATE,
        "duplicate imvdb_id",
        "/api/artists",
        role="manager",
        json={"name": "Other", "imvdb_id": 33},
        arrange=library,
    ),
    Scenario(CREATE, "malformed JSON", "/api/artists", role="manager", raw=b"{"),
    Scenario(
        CREATE, "a lone surrogate", "/api/artists", role="manager", raw=b'{"name": "\\ud800"}'
    ),
    Scenario(CREATE, "body too large", "/api/artists", role="manager", raw=b" " * (6 * 2**20)),
    Scenario(CREATE, "not an object", "/api/artists", role="manager", json=["name"]),
    Scenario(CREATE, "missing name", "/api/artists", role="manager", json={"genres": []}),
    Scenario(CREATE, "blank name", "/api/artists", role="manager", json={"name": "   "}),
    Scenario(
        CREATE,
        "wrong types",
        "/api/artists",
        role="manager",
        json={"name": "ok", "monitored": 1, "imvdb_id": "5"},
    ),
    Scenario(
        CREATE,
        "not an http URL",
        "/api/artists",
        role="manager",
        json={"name": "ok", "thumbnail_url": "javascript:alert(1)"},
    ),
    # --- GET /api/artists/<int:artist_id> -------------------------------------------------
    # Flask's <int:> reads any Unicode digits: ٣ is 3.
    Scenario(ONE, "id in Arabic-Indic digits", "/api/artists/٣", role="readonly", arrange=library),
    Scenario(ONE, "Arabic-Indic digits, anonymous", "/api/artists/٣", arrange=library),
    Scenario(ONE, "anonymous", "/api/artists/1", arrange=library),
    Scenario(ONE, "counts by status", "/api/artists/1", role="readonly", arrange=library),
    Scenario(ONE, "no videos", "/api/artists/4", role="user", auth="bearer", arrange=library),
    Scenario(ONE, "leading zeros", "/api/artists/003", role="readonly", arrange=library),
    Scenario(ONE, "unknown", "/api/artists/999", role="readonly", arrange=library),
    Scenario(ONE, "id beyond 64 bits", f"/api/artists/{HUGE_ID}", role="readonly"),
    Scenario(ONE, "negative id", "/api/artists/-1", role="readonly"),
    # --- PUT /api/artists/<int:artist_id> -------------------------------------------------
    Scenario(UPDATE, "anonymous", "/api/artists/1", json={"name": "X"}, arrange=library),
    Scenario(UPDATE, "user", "/api/artists/1", role="user", json={"name": "X"}, arrange=library),
    Scenario(
        UPDATE,
        "partial",
        "/api/artists/1",
        role="manager",
        json={"name": "ABBA", "thumbnail_url": None, "genres": ["pop"]},
        arrange=library,
        volatile=UPDATED,
    ),
    # Nothing changes, so no UPDATE is written and updated_at stays: nothing volatile.
    Scenario(UPDATE, "empty body", "/api/artists/2", role="manager", json={}, arrange=library),
    Scenario(
        UPDATE,
        "name taken",
        "/api/artists/1",
        role="manager",
        json={"name": "BECK"},
        arrange=library,
    ),
    Scenario(
        UPDATE,
        "imvdb_id taken",
        "/api/artists/1",
        role="manager",
        json={"imvdb_id": 33},
        arrange=library,
    ),
    Scenario(
        UPDATE,
        "null name",
        "/api/artists/1",
        role="manager",
        json={"name": None},
        arrange=library,
    ),
    Scenario(UPDATE, "malformed JSON", "/api/artists/1", role="manager", raw=b"[", arrange=library),
    Scenario(UPDATE, "unknown", "/api/artists/999", role="admin", json={"name": "X"}),
    Scenario(
        UPDATE,
        "bad body beats unknown id",
        "/api/artists/999",
        role="manager",
        json={"monitored": "false"},
    ),
    # --- DELETE /api/artists/<int:artist_id> ----------------------------------------------
    Scenario(DELETE, "anonymous", "/api/artists/1", arrange=library),
    Scenario(DELETE, "manager", "/api/artists/1", role="manager", arrange=library),
    Scenario(
        DELETE,
        "cascades to videos, entries, downloads",
        "/api/artists/1",
        role="admin",
        arrange=library,
    ),
    Scenario(
        DELETE, "without videos", "/api/artists/4", role="admin", auth="bearer", arrange=library
    ),
    Scenario(DELETE, "unknown", "/api/artists/999", role="admin", arrange=library),
    Scenario(DELETE, "id beyond 64 bits", f"/api/artists/{HUGE_ID}", role="admin"),
    # --- GET /api/artists/<int:artist_id>/videos ------------------------------------------
    Scenario(VIDEOS, "anonymous", "/api/artists/1/videos", arrange=library),
    Scenario(VIDEOS, "in id order", "/api/artists/1/videos", role="readonly", arrange=library),
    Scenario(
        VIDEOS,
        "bearer token",
        "/api/artists/2/videos",
        role="user",
        auth="bearer",
        arrange=library,
    ),
    Scenario(VIDEOS, "no videos", "/api/artists/4/videos", role="readonly", arrange=library),
    Scenario(VIDEOS, "unknown", "/api/artists/999/videos", role="readonly", arrange=library),
    Scenario(VIDEOS, "id beyond 64 bits", f"/api/artists/{HUGE_ID}/videos", role="readonly"),
    # --- POST /api/artists/bulk-delete ----------------------------------------------------
    Scenario(BULK, "anonymous", "/api/artists/bulk-delete", json={"ids": [1]}, arrange=library),
    Scenario(
        BULK,
        "manager",
        "/api/artists/bulk-delete",
        role="manager",
        json={"ids": [1]},
        arrange=library,
    ),
    Scenario(
        BULK,
        "some unknown, some twice",
        "/api/artists/bulk-delete",
        role="admin",
        json={"ids": [1, 2, 999, 1]},
        arrange=library,
    ),
    Scenario(
        BULK,
        "none exist",
        "/api/artists/bulk-delete",
        role="admin",
        json={"ids": [998, 999]},
        arrange=library,
    ),
    Scenario(
        BULK,
        "empty ids",
        "/api/artists/bulk-delete",
        role="admin",
        json={"ids": []},
        arrange=library,
    ),
    Scenario(
        BULK,
        "ids as strings",
        "/api/artists/bulk-delete",
        role="admin",
        json={"ids": ["1"]},
        arrange=library,
    ),
    Scenario(
        BULK,
        "id zero",
        "/api/artists/bulk-delete",
        role="admin",
        json={"ids": [0]},
        arrange=library,
    ),
    Scenario(
        BULK,
        "too many ids",
        "/api/artists/bulk-delete",
        role="admin",
        json={"ids": list(range(1, 1002))},
        arrange=library,
    ),
    Scenario(BULK, "missing ids", "/api/artists/bulk-delete", role="admin", json={}),
    Scenario(BULK, "malformed JSON", "/api/artists/bulk-delete", role="admin", raw=b"{"),
)
