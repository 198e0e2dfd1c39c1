"""Phase 4: the server-rendered pages, compared as a normalised DOM (gateway/dom.py), with
their redirects, 403 and 404 pages, Vary and the sliding session cookie."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from parity.demo.catalogue.artists import DAY, HUGE_ID, T0, library
from parity.demo.scenario import ADMIN, MANAGER, READONLY, USER, Arrange, Scenario
from shared.db.models import (
    Artist,
    Download,
    Playlist,
    PlaylistEntry,
    Setting,
    UserSession,
    Video,
)

LOGIN = "GET /login"
DASHBOARD = "GET /"
ARTISTS = "GET /artists"
ARTIST = "GET /artists/<int:artist_id>"
VIDEOS = "GET /videos"
VIDEO = "GET /videos/<int:video_id>"
PLAYLISTS = "GET /playlists"
SETTINGS = "GET /settings"

XSS = "<script>alert(1)</script>"
ROLES = ("readonly", "user", "manager", "admin")
LAST_INT = 2**31 - 1  # the largest id an INT column holds


def rich(session: Session, now: datetime) -> None:
    """The library, and what the pages show besides: markup in names, a javascript: source,
    a video without a file but with a source, downloads of every status (more than the
    page lists), playlists of several owners, private and public, and settings of every
    JSON kind, one of them a secret."""
    library(session, now)
    session.add_all(
        [
            Artist(
                id=6,
                name=XSS,
                genres=[XSS, "noise"],
                thumbnail_path="artists/6.jpg",
                created_at=T0,
                updated_at=T0,
            ),
        ]
    )
    session.flush()
    session.add_all(
        [
            Video(
                id=8,
                artist_id=6,
                title=XSS,
                url="javascript:alert(1)",
                duration=3725,
                created_at=T0 + 4 * DAY,
                updated_at=T0,
            ),
            Video(
                id=9,
                artist_id=3,
                title="Strong Enough",
                url="https://v.example/strong?x=1&y=2",
                imvdb_id=909,
                year=1999,
                duration=59,
                created_at=T0 + 5 * DAY,
                updated_at=T0,
            ),
        ]
    )
    session.flush()
    statuses = ("queued", "running", "failed", "cancelled", "completed", "failed", "running")
    session.add_all(
        Download(
            video_id=9,
            requested_by=USER,
            status=status,
            progress=10 * i,
            error_message=f"{XSS} attempt {i}" if status == "failed" else None,
            created_at=T0 + i * timedelta(hours=1),
        )
        for i, status in enumerate(statuses)
    )
    session.add_all(
        [
            Playlist(
                id=2,
                name="Readonly's own",
                description=f"Private, with {XSS}",
                owner_id=READONLY,
                created_at=T0,
                updated_at=T0,
            ),
            Playlist(id=3, name="Manager's secret", owner_id=MANAGER, created_at=T0, updated_at=T0),
            Playlist(
                id=4,
                name="Admin's picks",
                description="For everyone",
                owner_id=ADMIN,
                is_public=True,
                created_at=T0,
                updated_at=T0,
            ),
            # The same name as the user's: ordered by id after the name.
            Playlist(
                id=5,
                name="Favourites",
                owner_id=ADMIN,
                is_public=True,
                created_at=T0,
                updated_at=T0,
            ),
        ]
    )
    session.flush()
    session.add_all(
        [
            PlaylistEntry(playlist_id=2, video_id=8, position=0, added_at=T0),
            PlaylistEntry(playlist_id=4, video_id=9, position=1, added_at=T0),
            PlaylistEntry(playlist_id=4, video_id=5, position=0, added_at=T0),
            PlaylistEntry(playlist_id=3, video_id=2, position=0, added_at=T0),
        ]
    )
    _settings(session, now)


def _settings(session: Session, now: datetime) -> None:
    session.add_all(
        [
            Setting(key="site_name", value="Vidéos", description=XSS, updated_at=now),
            Setting(
                key="imvdb_api_key", value="s3cret", description="provider key", updated_at=now
            ),
            Setting(key="empty_token", value=None, updated_at=now),
            Setting(key="page_size", value=25, updated_at=now),
            Setting(key="formats", value=["mp4", "webm"], updated_at=now),
            Setting(key="limits", value={"max": 3, "name": "ü"}, updated_at=now),
            Setting(key="enabled", value=True, updated_at=now),
        ]
    )


def _many(session: Session, now: datetime) -> None:
    """120 artists, one video each of a status by turn: several pages of both lists."""
    statuses = ("wanted", "downloaded", "failed")
    session.add_all(
        Artist(id=i, name=f"Artist {i:03d}", created_at=T0, updated_at=T0) for i in range(1, 121)
    )
    session.flush()
    session.add_all(
        Video(
            id=i,
            artist_id=121 - i,
            title=f"Song {i:03d}",
            status=statuses[i % 3],
            created_at=T0 + i * timedelta(minutes=1),
            updated_at=T0,
        )
        for i in range(1, 121)
    )


def _revoked(session: Session, now: datetime) -> None:
    library(session, now)
    session.query(UserSession).update({"revoked_at": now})


def _at(
    route: str,
    name: str,
    path: str,
    role: str | None = "readonly",
    *,
    auth: str = "cookie",
    arrange: Arrange | None = None,
) -> Scenario:
    """A page read; nothing it does may differ, not even a timestamp."""
    return Scenario(route, name, path, role=role, auth=auth, arrange=arrange)


def _anonymous(route: str, path: str) -> tuple[Scenario, ...]:
    """Sent to the login form, with the page (and its query as sent) as next."""
    return (
        _at(route, "anonymous", path, role=None),
        _at(route, "anonymous, with a query", f"{path}?b=%20c+d&a=1&a=2&e=%C3%A9", role=None),
    )


def _roles(route: str, path: str) -> tuple[Scenario, ...]:
    return tuple(_at(route, f"{role}, rich", path, role=role, arrange=rich) for role in ROLES)


SCENARIOS: tuple[Scenario, ...] = (
    # --- GET /login ----------------------------------------------------------------------
    _at(LOGIN, "the form", "/login", role=None),
    _at(LOGIN, "with next", "/login?next=/videos%3Fstatus%3Dwanted", role=None),
    _at(LOGIN, "next escaped", "/login?next=/x%22%3E%3Cb%3Ehi", role=None),
    _at(LOGIN, "hostile next", "/login?next=//evil.example/", role=None),
    _at(LOGIN, "javascript: next", "/login?next=javascript:alert(1)", role=None),
    _at(LOGIN, "control characters in next", "/login?next=/x%0D%0ASet-Cookie:%20e=1", role=None),
    _at(LOGIN, "repeated next: the first wins", "/login?next=/artists&next=/videos", role=None),
    _at(LOGIN, "a known error", "/login?error=AUTH_REQUIRED&username=parity_user", role=None),
    _at(LOGIN, "an unknown error", "/login?error=Call+now&username=%22%3E%3Cb%3Ex", role=None),
    _at(LOGIN, "locked", "/login?error=LOCKED&username=" + "x" * 100, role=None),
    # Public: no caller is looked up, so no nav; the session still slides.
    _at(LOGIN, "logged in already", "/login?next=/playlists", role="user"),
    # --- GET / ---------------------------------------------------------------------------
    *_anonymous(DASHBOARD, "/"),
    _at(DASHBOARD, "empty", "/"),
    _at(DASHBOARD, "library", "/", arrange=library),
    *_roles(DASHBOARD, "/"),
    _at(DASHBOARD, "bearer token", "/", role="admin", auth="bearer", arrange=rich),
    _at(DASHBOARD, "revoked session", "/", arrange=_revoked),
    _at(DASHBOARD, "many", "/", role="user", arrange=_many),
    # --- GET /artists ----------------------------------------------------------------------
    *_anonymous(ARTISTS, "/artists"),
    _at(ARTISTS, "empty", "/artists"),
    _at(ARTISTS, "library", "/artists", role="user", arrange=library),
    _at(ARTISTS, "rich, bearer", "/artists", role="manager", auth="bearer", arrange=rich),
    _at(ARTISTS, "first of three pages", "/artists", arrange=_many),
    _at(ARTISTS, "second page", "/artists?page=2", arrange=_many),
    _at(ARTISTS, "last page", "/artists?page=3", role="admin", arrange=_many),
    *(
        _at(ARTISTS, f"page {name}", f"/artists?page={page}", arrange=_many)
        for name, page in (
            ("beyond the last", "4"),
            ("zero", "0"),
            ("negative", "-3"),
            ("not a number", "abc"),
            ("blank", ""),
            ("a fraction", "1.5"),
            ("huge", "9" * 30),
            ("past int()'s digit limit", "9" * 5000),
            ("with spaces and a sign", "%20+2"),
            ("repeated: the first wins", "3&page=1"),
        )
    ),
    # --- GET /artists/<int:artist_id> ------------------------------------------------------
    *_anonymous(ARTIST, "/artists/1"),
    *(_at(ARTIST, f"{role}, with videos", "/artists/1", role=role, arrange=rich) for role in ROLES),
    _at(ARTIST, "no videos", "/artists/4", arrange=library),
    _at(ARTIST, "markup in name and genres", "/artists/6", arrange=rich),
    _at(ARTIST, "not monitored, bearer", "/artists/2", role="user", auth="bearer", arrange=rich),
    _at(ARTIST, "Arabic-Indic digits", "/artists/٣", arrange=library),
    _at(ARTIST, "leading zeros", "/artists/003", arrange=library),
    _at(ARTIST, "unknown", "/artists/999", arrange=library),
    _at(ARTIST, "unknown, the last INT", f"/artists/{LAST_INT}", arrange=library),
    _at(ARTIST, "beyond INT", f"/artists/{LAST_INT + 1}", arrange=library),
    _at(ARTIST, "beyond 64 bits", f"/artists/{HUGE_ID}"),
    _at(ARTIST, "unknown, anonymous", "/artists/999", role=None),
    # --- GET /videos ---------------------------------------------------------------------
    *_anonymous(VIDEOS, "/videos"),
    _at(VIDEOS, "anonymous, a filter", "/videos?status=wanted&offset=50", role=None),
    _at(VIDEOS, "empty", "/videos"),
    _at(VIDEOS, "empty, a filter", "/videos?status=failed"),
    _at(VIDEOS, "library", "/videos", role="user", arrange=library),
    _at(VIDEOS, "rich, bearer", "/videos", role="admin", auth="bearer", arrange=rich),
    *(
        _at(VIDEOS, f"status {status}", f"/videos?status={status}", arrange=library)
        for status in ("wanted", "downloaded", "failed", "ignored", "downloading")
    ),
    *(
        _at(VIDEOS, name, f"/videos?{query}", arrange=_many)
        for name, query in (
            ("first of three pages", ""),
            ("second page", "offset=50"),
            ("last page", "offset=100"),
            ("a filter and a limit", "status=wanted&limit=7"),
            ("a filter, limit and offset", "status=wanted&limit=7&offset=14"),
            ("offset not on a page", "limit=20&offset=35"),
            ("offset past the end", "offset=500"),
            ("limit at its bound", "limit=500"),
            ("limit past its bound", "limit=100000&offset=" + "9" * 40),
            ("limit zero", "limit=0"),
            ("limit and offset not numbers", "limit=abc&offset=-5"),
            ("offset not a number", "offset=x"),
            ("unknown status", "status=bogus&limit=10"),
            ("blank status", "status=&limit=10"),
            ("repeated status: the first wins", "status=failed&status=wanted"),
        )
    ),
    # --- GET /videos/<int:video_id> --------------------------------------------------------
    *_anonymous(VIDEO, "/videos/1"),
    *(_at(VIDEO, f"{role}, with a file", "/videos/1", role=role, arrange=rich) for role in ROLES),
    *(
        _at(VIDEO, f"{role}, a source and downloads", "/videos/9", role=role, arrange=rich)
        for role in ROLES
    ),
    _at(VIDEO, "no source, no file", "/videos/2", role="user", arrange=library),
    _at(VIDEO, "a javascript: source", "/videos/8", role="manager", arrange=rich),
    _at(VIDEO, "bearer", "/videos/4", role="user", auth="bearer", arrange=library),
    _at(VIDEO, "unknown", "/videos/999", arrange=library),
    _at(VIDEO, "beyond INT", f"/videos/{LAST_INT + 1}", arrange=library),
    _at(VIDEO, "beyond 64 bits", f"/videos/{HUGE_ID}"),
    # --- GET /playlists ------------------------------------------------------------------
    *_anonymous(PLAYLISTS, "/playlists"),
    _at(PLAYLISTS, "empty", "/playlists"),
    _at(PLAYLISTS, "library", "/playlists", arrange=library),
    _at(PLAYLISTS, "library, the owner", "/playlists", role="user", arrange=library),
    *_roles(PLAYLISTS, "/playlists"),
    _at(PLAYLISTS, "bearer", "/playlists", role="manager", auth="bearer", arrange=rich),
    # --- GET /settings -------------------------------------------------------------------
    *_anonymous(SETTINGS, "/settings"),
    *(
        _at(SETTINGS, f"{role}: 403", "/settings", role=role, arrange=rich)
        for role in ("readonly", "user", "manager")
    ),
    _at(SETTINGS, "manager by bearer: 403", "/settings", role="manager", auth="bearer"),
    _at(SETTINGS, "admin, none stored", "/settings", role="admin"),
    _at(SETTINGS, "admin, every kind masked or shown", "/settings", role="admin", arrange=rich),
    _at(SETTINGS, "admin by bearer", "/settings", role="admin", auth="bearer", arrange=_settings),
    _at(SETTINGS, "revoked session", "/settings", role="admin", arrange=_revoked),
)
