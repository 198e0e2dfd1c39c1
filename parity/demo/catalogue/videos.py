"""Phase 3: videos."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from parity.demo.catalogue.artists import T0, library
from parity.demo.scenario import Scenario
from shared.db.models import Artist, Video
from shared.pagination import OFFSET_MAX


def _many_videos(session: Session, now: datetime) -> None:
    session.add(Artist(id=1, name="Prolific", created_at=T0, updated_at=T0))
    session.flush()
    session.add_all(
        Video(artist_id=1, title=f"Take {i}", created_at=now, updated_at=now) for i in range(1, 8)
    )


# Each side writes these at its own moment: they may differ by the second that passes.
CREATED = (
    "created_at",
    "updated_at",
    "rows.videos.*.created_at",
    "rows.videos.*.updated_at",
)
UPDATED = ("updated_at", "rows.videos.*.updated_at")

LIST = "GET /api/videos"
SEARCH = "GET /api/videos/search"
CREATE = "POST /api/videos"
ONE = "GET /api/videos/<int:video_id>"
UPDATE = "PUT /api/videos/<int:video_id>"
DELETE = "DELETE /api/videos/<int:video_id>"
STATUS = "PUT /api/videos/<int:video_id>/status"
BULK_STATUS = "POST /api/videos/bulk/status"
BULK_DELETE = "POST /api/videos/bulk/delete"
HUGE_ID = "99999999999999999999999"
NEW_VIDEO = {
    "artist_id": 3,
    "title": " Strong Enough ",
    "url": "https://v.example/se",
    "imvdb_id": 303,
    "year": 1999,
    "duration": 0,
    "status": "ignored",
    "thumbnail_url": "http://img.example/se.jpg",
}


def _list(
    name: str, query: str = "", role: str | None = "readonly", auth: str = "cookie"
) -> Scenario:
    """A read of the list over the library."""
    return Scenario(LIST, name, f"/api/videos{query}", role=role, auth=auth, arrange=library)


def _search(name: str, query: str, role: str | None = "readonly") -> Scenario:
    return Scenario(SEARCH, name, f"/api/videos/search{query}", role=role, arrange=library)


SCENARIOS: tuple[Scenario, ...] = (
    # --- GET /api/videos -----------------------------------------------------------------
    _list("anonymous", role=None),
    Scenario(LIST, "empty", "/api/videos", role="readonly"),
    _list("readonly, by id"),
    _list("bearer token", role="manager", auth="bearer"),
    Scenario(
        LIST, "a middle page", "/api/videos?limit=3&offset=2", role="user", arrange=_many_videos
    ),
    Scenario(
        LIST,
        "offset beyond the last",
        "/api/videos?limit=3&offset=100",
        role="readonly",
        arrange=_many_videos,
    ),
    _list("limit at its bound", "?limit=500"),
    _list("limit over its bound", "?limit=501"),
    _list("limit zero", "?limit=0"),
    _list("limit not a number", "?limit=abc"),
    _list("negative offset", "?offset=-1"),
    # The largest offset a database takes, and the ones past it (were a 500).
    _list("the largest offset", f"?limit=500&offset={OFFSET_MAX}"),
    _list("offset past 64 bits", f"?offset={OFFSET_MAX + 1}"),
    _list("offset far beyond 64 bits", "?offset=99999999999999999999"),
    _list("repeated key: the first wins", "?limit=2&limit=4"),
    _list("status and artist filters", "?status=downloaded&artist_id=2"),
    _list("sort by year, descending", "?sort=year&order=desc"),
    _list("unknown status", "?status=WANTED"),
    _list("artist_id not a number", "?artist_id=abc"),
    _list("artist_id beyond 64 bits", f"?artist_id={HUGE_ID}"),
    _list("unknown sort", "?sort=-title"),
    _list("unknown order", "?order=up"),
    # --- GET /api/videos/search ----------------------------------------------------------
    _search("anonymous", "?q=queen", role=None),
    _search("title and artist name", "?q=QUEEN"),
    _search("paged", "?q=e&limit=2&offset=1"),
    _search("a literal %", "?q=%25"),
    _search("a literal _", "?q=_O"),
    _search("no q", ""),
    _search("blank q", "?q=%20%20"),
    _search("q too long", "?q=" + "x" * 201),
    _search("limit over its bound", "?q=a&limit=501"),
    _search("offset beyond 64 bits", "?q=a&offset=99999999999999999999"),
    _search("repeated q: the first wins", "?q=loser&q=abba"),
    # Flask keeps bytes that are no UTF-8 percent-encoded, and echoes the query.
    _search("q not UTF-8", "?q=%ff"),
    # --- POST /api/videos ----------------------------------------------------------------
    Scenario(CREATE, "anonymous", "/api/videos", json=NEW_VIDEO, arrange=library),
    Scenario(CREATE, "user", "/api/videos", role="user", json=NEW_VIDEO, arrange=library),
    Scenario(
        CREATE,
        "cookie write from another site",
        "/api/videos",
        role="manager",
        json=NEW_VIDEO,
        headers={"Origin": "http://evil.example"},
        arrange=library,
    ),
    Scenario(
        CREATE,
        "bearer write from another site",
        "/api/videos",
        role="manager",
        auth="bearer",
        json=NEW_VIDEO,
        headers={"Origin": "http://evil.example"},
        arrange=library,
        volatile=CREATED,
    ),
    Scenario(
        CREATE,
        "manager creates",
        "/api/videos",
        role="manager",
        json=NEW_VIDEO,
        arrange=library,
        volatile=CREATED,
    ),
    Scenario(
        CREATE,
        "defaults, bearer admin",
        "/api/videos",
        role="admin",
        auth="bearer",
        json={"artist_id": 4, "title": "Bare"},
        arrange=library,
        volatile=CREATED,
    ),
    Scenario(
        CREATE,
        "same title, other artist",
        "/api/videos",
        role="manager",
        json={"artist_id": 3, "title": "Waterloo"},
        arrange=library,
        volatile=CREATED,
    ),
    Scenario(
        CREATE,
        "duplicate title",
        "/api/videos",
        role="manager",
        json={"artist_id": 1, "title": "Waterloo"},
        arrange=library,
    ),
    Scenario(
        CREATE,
        "duplicate imvdb_id",
        "/api/videos",
        role="manager",
        json={"artist_id": 3, "title": "New", "imvdb_id": 101},
        arrange=library,
    ),
    Scenario(
        CREATE,
        "unknown artist",
        "/api/videos",
        role="manager",
        json={"artist_id": 999, "title": "Orphan"},
        arrange=library,
    ),
    Scenario(CREATE, "malformed JSON", "/api/videos", role="manager", raw=b"{"),
    Scenario(CREATE, "missing title", "/api/videos", role="manager", json={"artist_id": 1}),
    Scenario(
        CREATE,
        "wrong types",
        "/api/videos",
        role="manager",
        json={"artist_id": "1", "title": "x", "year": 2000.0},
    ),
    Scenario(
        CREATE,
        "out of range",
        "/api/videos",
        role="manager",
        json={"artist_id": 1, "title": "x", "year": 1899, "duration": -1},
        arrange=library,
    ),
    # --- GET /api/videos/<int:video_id> --------------------------------------------------
    Scenario(ONE, "anonymous", "/api/videos/1", arrange=library),
    Scenario(ONE, "with a file", "/api/videos/1", role="readonly", arrange=library),
    Scenario(ONE, "without", "/api/videos/3", role="user", auth="bearer", arrange=library),
    Scenario(ONE, "unknown", "/api/videos/999", role="readonly", arrange=library),
    Scenario(ONE, "id beyond 64 bits", f"/api/videos/{HUGE_ID}", role="readonly"),
    Scenario(ONE, "not an id", "/api/videos/abc", role="readonly"),
    # --- PUT /api/videos/<int:video_id> --------------------------------------------------
    Scenario(UPDATE, "anonymous", "/api/videos/2", json={"title": "X"}, arrange=library),
    Scenario(UPDATE, "user", "/api/videos/2", role="user", json={"title": "X"}, arrange=library),
    Scenario(
        UPDATE,
        "partial, to another artist",
        "/api/videos/2",
        role="manager",
        json={"title": "Waterloo (live)", "year": None, "artist_id": 3},
        arrange=library,
        volatile=UPDATED,
    ),
    Scenario(
        UPDATE,
        "own title and imvdb_id kept",
        "/api/videos/1",
        role="manager",
        json={"title": "Dancing Queen", "imvdb_id": 101, "duration": 232},
        arrange=library,
        volatile=UPDATED,
    ),
    # Nothing changes, so no UPDATE is written and updated_at stays: nothing volatile.
    Scenario(UPDATE, "empty body", "/api/videos/2", role="manager", json={}, arrange=library),
    Scenario(
        UPDATE,
        "title taken",
        "/api/videos/2",
        role="manager",
        json={"title": "SOS"},
        arrange=library,
    ),
    Scenario(
        UPDATE,
        "the move collides",
        "/api/videos/6",
        role="manager",
        json={"artist_id": 1, "title": "Waterloo"},
        arrange=library,
    ),
    Scenario(
        UPDATE,
        "unknown artist",
        "/api/videos/2",
        role="manager",
        json={"artist_id": 999},
        arrange=library,
    ),
    Scenario(
        UPDATE,
        "null status",
        "/api/videos/2",
        role="manager",
        json={"status": None},
        arrange=library,
    ),
    Scenario(UPDATE, "malformed JSON", "/api/videos/2", role="manager", raw=b"[", arrange=library),
    Scenario(UPDATE, "unknown", "/api/videos/999", role="manager", json={"title": "X"}),
    # --- DELETE /api/videos/<int:video_id> -----------------------------------------------
    Scenario(DELETE, "anonymous", "/api/videos/1", arrange=library),
    Scenario(DELETE, "user", "/api/videos/1", role="user", arrange=library),
    Scenario(
        DELETE,
        "cascades to entries and downloads",
        "/api/videos/1",
        role="manager",
        arrange=library,
    ),
    # The runner makes no media file: the row goes, the missing file is only logged.
    Scenario(
        DELETE,
        "delete_file=1, file missing",
        "/api/videos/1?delete_file=1",
        role="manager",
        arrange=library,
    ),
    Scenario(
        DELETE,
        "delete_file=true, no file",
        "/api/videos/2?delete_file=true",
        role="admin",
        auth="bearer",
        arrange=library,
    ),
    Scenario(
        DELETE, "delete_file=0", "/api/videos/1?delete_file=0", role="manager", arrange=library
    ),
    Scenario(
        DELETE,
        "a bad flag deletes nothing",
        "/api/videos/1?delete_file=please",
        role="manager",
        arrange=library,
    ),
    Scenario(DELETE, "unknown", "/api/videos/999", role="manager", arrange=library),
    Scenario(DELETE, "id beyond 64 bits", f"/api/videos/{HUGE_ID}", role="manager"),
    # --- PUT /api/videos/<int:video_id>/status -------------------------------------------
    Scenario(STATUS, "anonymous", "/api/videos/2/status", json={"status": "ignored"}),
    Scenario(
        STATUS,
        "readonly",
        "/api/videos/2/status",
        role="readonly",
        json={"status": "ignored"},
        arrange=library,
    ),
    Scenario(
        STATUS,
        "user sets it",
        "/api/videos/2/status",
        role="user",
        json={"status": "ignored"},
        arrange=library,
        volatile=UPDATED,
    ),
    # Unchanged, so no UPDATE is written and updated_at stays: nothing volatile.
    Scenario(
        STATUS,
        "the same status",
        "/api/videos/2/status",
        role="user",
        auth="bearer",
        json={"status": "wanted"},
        arrange=library,
    ),
    Scenario(
        STATUS,
        "unknown status",
        "/api/videos/2/status",
        role="user",
        json={"status": "done"},
        arrange=library,
    ),
    Scenario(
        STATUS, "missing status", "/api/videos/2/status", role="user", json={}, arrange=library
    ),
    Scenario(
        STATUS,
        "status not a string",
        "/api/videos/2/status",
        role="user",
        json={"status": 1},
        arrange=library,
    ),
    Scenario(STATUS, "malformed JSON", "/api/videos/2/status", role="user", raw=b"{"),
    Scenario(
        STATUS,
        "unknown video",
        "/api/videos/999/status",
        role="user",
        json={"status": "wanted"},
        arrange=library,
    ),
    # --- POST /api/videos/bulk/status ----------------------------------------------------
    Scenario(
        BULK_STATUS,
        "anonymous",
        "/api/videos/bulk/status",
        json={"ids": [1], "status": "failed"},
        arrange=library,
    ),
    Scenario(
        BULK_STATUS,
        "user",
        "/api/videos/bulk/status",
        role="user",
        json={"ids": [1], "status": "failed"},
        arrange=library,
    ),
    Scenario(
        BULK_STATUS,
        "some unknown, some twice",
        "/api/videos/bulk/status",
        role="manager",
        json={"ids": [2, 3, 999, 2], "status": "wanted"},
        arrange=library,
        volatile=("rows.videos.*.updated_at",),
    ),
    Scenario(
        BULK_STATUS,
        "none exist",
        "/api/videos/bulk/status",
        role="manager",
        json={"ids": [998, 999], "status": "failed"},
        arrange=library,
    ),
    Scenario(
        BULK_STATUS,
        "empty ids",
        "/api/videos/bulk/status",
        role="manager",
        json={"ids": [], "status": "failed"},
    ),
    Scenario(
        BULK_STATUS, "missing status", "/api/videos/bulk/status", role="manager", json={"ids": [1]}
    ),
    Scenario(
        BULK_STATUS,
        "unknown status",
        "/api/videos/bulk/status",
        role="manager",
        json={"ids": [1], "status": "done"},
    ),
    Scenario(
        BULK_STATUS,
        "ids as booleans",
        "/api/videos/bulk/status",
        role="manager",
        json={"ids": [True], "status": "failed"},
    ),
    Scenario(
        BULK_STATUS,
        "too many ids",
        "/api/videos/bulk/status",
        role="manager",
        json={"ids": list(range(1, 1002)), "status": "failed"},
    ),
    Scenario(BULK_STATUS, "malformed JSON", "/api/videos/bulk/status", role="manager", raw=b"{"),
    # --- POST /api/videos/bulk/delete ----------------------------------------------------
    Scenario(
        BULK_DELETE, "anonymous", "/api/videos/bulk/delete", json={"ids": [1]}, arrange=library
    ),
    Scenario(
        BULK_DELETE,
        "manager",
        "/api/videos/bulk/delete",
        role="manager",
        json={"ids": [1]},
        arrange=library,
    ),
    Scenario(
        BULK_DELETE,
        "with entries and downloads",
        "/api/videos/bulk/delete",
        role="admin",
        json={"ids": [1, 4, 999]},
        arrange=library,
    ),
    Scenario(
        BULK_DELETE,
        "none exist",
        "/api/videos/bulk/delete",
        role="admin",
        json={"ids": [999]},
        arrange=library,
    ),
    Scenario(BULK_DELETE, "empty ids", "/api/videos/bulk/delete", role="admin", json={"ids": []}),
    Scenario(
        BULK_DELETE, "ids not a list", "/api/videos/bulk/delete", role="admin", json={"ids": "all"}
    ),
    Scenario(
        BULK_DELETE, "float ids", "/api/videos/bulk/delete", role="admin", json={"ids": [1.0]}
    ),
    Scenario(BULK_DELETE, "missing ids", "/api/videos/bulk/delete", role="admin", json={}),
    Scenario(BULK_DELETE, "malformed JSON", "/api/videos/bulk/delete", role="admin", raw=b"{"),
)
