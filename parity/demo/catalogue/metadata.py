"""Phase 1: the routes that consult the metadata provider, against the fake provider
(the same for both sides, so the same artists and videos) or a provider that is down."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from parity.demo.scenario import Scenario
from shared.db.models import Artist, Video
from shared.fakes.metadata_provider import EMPTY_ARTIST_NAME, build_catalogue

FAKE = build_catalogue()
HORIZON = FAKE.by_name("Horizon")
EMPTY = FAKE.by_name(EMPTY_ARTIST_NAME)
FIRST_VIDEO = FAKE.videos[HORIZON.video_ids[0]]
IMPORT = "/api/artists/import-from-imvdb"
ARTIST, VIDEO, OTHER_VIDEO = 1, 1, 2  # ids of the rows the arrangements add
# Rows each side writes at its own moment.
NEW_ARTIST = ("created_at", "updated_at", "rows.artists.*.created_at", "rows.artists.*.updated_at")
NEW_VIDEOS = (
    "videos.*.created_at",
    "videos.*.updated_at",
    "rows.videos.*.created_at",
    "rows.videos.*.updated_at",
)
TOUCHED_VIDEO = ("updated_at", "rows.videos.*.updated_at")


def _artist(imvdb_id: int | None, name: str = "Horizon") -> Artist:
    return Artist(name=name, imvdb_id=imvdb_id, genres=[], monitored=True)


def _stamp(now: datetime, *rows: Artist | Video) -> None:
    for row in rows:
        row.created_at = row.updated_at = now


def _horizon(session: Session, now: datetime) -> None:
    artist = _artist(HORIZON.id)
    _stamp(now, artist)
    session.add(artist)


def _horizon_unlinked(session: Session, now: datetime) -> None:
    artist = _artist(None)
    _stamp(now, artist)
    session.add(artist)


def _empty_artist(session: Session, now: datetime) -> None:
    artist = _artist(EMPTY.id, EMPTY.name)
    _stamp(now, artist)
    session.add(artist)


def _horizon_with_first_video(session: Session, now: datetime) -> None:
    """The first provider video already in the library (by title, without its id)."""
    _horizon(session, now)
    session.flush()
    video = Video(artist_id=ARTIST, title=FIRST_VIDEO.title, status="wanted")
    _stamp(now, video)
    session.add(video)


def _linked_video(session: Session, now: datetime) -> None:
    _horizon(session, now)
    session.flush()
    video = Video(
        artist_id=ARTIST, title="Old title", imvdb_id=FIRST_VIDEO.id, status="wanted", year=1970
    )
    _stamp(now, video)
    session.add(video)


def _linked_video_and_clash(session: Session, now: datetime) -> None:
    """A second video already holds the title the provider will give the first."""
    _linked_video(session, now)
    session.flush()
    clash = Video(artist_id=ARTIST, title=FIRST_VIDEO.title, status="wanted")
    _stamp(now, clash)
    session.add(clash)


def _unlinked_video(session: Session, now: datetime) -> None:
    _horizon(session, now)
    session.flush()
    video = Video(artist_id=ARTIST, title="Local only", status="wanted")
    _stamp(now, video)
    session.add(video)


SEARCH = "GET /api/metadata/search"
IMPORT_ROUTE = "POST /api/artists/import-from-imvdb"
DISCOVER = "POST /api/artists/<int:artist_id>/videos/discover"
REFRESH = "POST /api/videos/<int:video_id>/refresh-metadata"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(SEARCH, "matches", "/api/metadata/search?q=horizon", role="user"),
    Scenario(SEARCH, "bearer", "/api/metadata/search?q=Hor", role="admin", auth="bearer"),
    Scenario(SEARCH, "no results", "/api/metadata/search?q=zzzz-nothing", role="user"),
    Scenario(SEARCH, "repeated q: the first", "/api/metadata/search?q=horizon&q=zzzz", role="user"),
    Scenario(SEARCH, "no query", "/api/metadata/search", role="user"),
    Scenario(SEARCH, "blank query", "/api/metadata/search?q=%20%20", role="user"),
    Scenario(SEARCH, "query too long", "/api/metadata/search?q=" + "x" * 300, role="user"),
    Scenario(SEARCH, "anonymous", "/api/metadata/search?q=horizon"),
    Scenario(SEARCH, "readonly", "/api/metadata/search?q=horizon", role="readonly"),
    Scenario(
        SEARCH, "provider down", "/api/metadata/search?q=horizon", role="user", provider="down"
    ),
    Scenario(
        IMPORT_ROUTE,
        "by name",
        IMPORT,
        role="manager",
        json={"name": "horizon"},
        volatile=NEW_ARTIST,
    ),
    Scenario(
        IMPORT_ROUTE,
        "by id",
        IMPORT,
        role="admin",
        json={"imvdb_id": HORIZON.id},
        volatile=NEW_ARTIST,
    ),
    Scenario(IMPORT_ROUTE, "no such name", IMPORT, role="manager", json={"name": "zzzz-nothing"}),
    Scenario(IMPORT_ROUTE, "no such id", IMPORT, role="manager", json={"imvdb_id": 999_999}),
    Scenario(
        IMPORT_ROUTE,
        "already imported",
        IMPORT,
        role="manager",
        json={"imvdb_id": HORIZON.id},
        arrange=_horizon,
    ),
    Scenario(
        IMPORT_ROUTE,
        "same name, no id yet",
        IMPORT,
        role="manager",
        json={"name": "Horizon"},
        arrange=_horizon_unlinked,
    ),
    Scenario(IMPORT_ROUTE, "neither name nor id", IMPORT, role="manager", json={}),
    Scenario(IMPORT_ROUTE, "id of the wrong type", IMPORT, role="manager", json={"imvdb_id": "7"}),
    Scenario(IMPORT_ROUTE, "malformed JSON", IMPORT, role="manager", raw=b"{"),
    Scenario(IMPORT_ROUTE, "user", IMPORT, role="user", json={"name": "horizon"}),
    Scenario(IMPORT_ROUTE, "anonymous", IMPORT, json={"name": "horizon"}),
    Scenario(
        IMPORT_ROUTE,
        "provider down",
        IMPORT,
        role="manager",
        json={"name": "horizon"},
        provider="down",
    ),
    Scenario(
        DISCOVER,
        "adds the videos",
        f"/api/artists/{ARTIST}/videos/discover",
        role="manager",
        arrange=_horizon,
        volatile=NEW_VIDEOS,
    ),
    Scenario(
        DISCOVER,
        "skips a known title",
        f"/api/artists/{ARTIST}/videos/discover",
        role="manager",
        arrange=_horizon_with_first_video,
        volatile=NEW_VIDEOS,
    ),
    Scenario(
        DISCOVER,
        "artist without videos",
        f"/api/artists/{ARTIST}/videos/discover",
        role="admin",
        arrange=_empty_artist,
    ),
    Scenario(
        DISCOVER,
        "artist not linked",
        f"/api/artists/{ARTIST}/videos/discover",
        role="manager",
        arrange=_horizon_unlinked,
    ),
    Scenario(DISCOVER, "unknown artist", "/api/artists/99/videos/discover", role="manager"),
    Scenario(
        DISCOVER, "user", f"/api/artists/{ARTIST}/videos/discover", role="user", arrange=_horizon
    ),
    Scenario(DISCOVER, "anonymous", f"/api/artists/{ARTIST}/videos/discover", arrange=_horizon),
    Scenario(
        DISCOVER,
        "provider down",
        f"/api/artists/{ARTIST}/videos/discover",
        role="manager",
        arrange=_horizon,
        provider="down",
    ),
    Scenario(
        REFRESH,
        "takes the provider values",
        f"/api/videos/{VIDEO}/refresh-metadata",
        role="manager",
        arrange=_linked_video,
        volatile=TOUCHED_VIDEO,
    ),
    Scenario(
        REFRESH,
        "title clash",
        f"/api/videos/{VIDEO}/refresh-metadata",
        role="manager",
        arrange=_linked_video_and_clash,
    ),
    Scenario(
        REFRESH,
        "video not linked",
        f"/api/videos/{VIDEO}/refresh-metadata",
        role="manager",
        arrange=_unlinked_video,
    ),
    Scenario(REFRESH, "unknown video", "/api/videos/99/refresh-metadata", role="manager"),
    Scenario(
        REFRESH, "user", f"/api/videos/{VIDEO}/refresh-metadata", role="user", arrange=_linked_video
    ),
    Scenario(REFRESH, "anonymous", f"/api/videos/{VIDEO}/refresh-metadata", arrange=_linked_video),
    Scenario(
        REFRESH,
        "provider down",
        f"/api/videos/{VIDEO}/refresh-metadata",
        role="manager",
        arrange=_linked_video,
        provider="down",
    ),
)
