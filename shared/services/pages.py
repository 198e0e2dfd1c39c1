"""The server-rendered pages: their statements and their templates' context, written once.

Each page is a plan (shared/db/plan.py) of Core statements that returns a `Page`: the
template, its context and the status. The legacy side runs it on its sync Session and
renders with Flask; the twin awaits it on its AsyncConnection and renders with the same
templates (fastapi_app/pages.py). The context holds plain dicts of row mappings, never ORM
objects: Jinja's `artist.name` falls back to item lookup on a dict.

A page never answers 500 for odd query strings: a bad number falls back to its default
and an unknown status filter shows everything (`clamped`, `status_filter`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Table, bindparam, func, or_, select

from shared.db.models import (
    DOWNLOAD_STATUSES,
    VIDEO_STATUSES,
    Artist,
    Download,
    Playlist,
    PlaylistEntry,
    Setting,
    User,
    Video,
)
from shared.db.plan import Plan
from shared.serializers import Row, setting_row_json
from shared.web.pages import ERROR_TEMPLATE

ARTISTS_PER_PAGE = 50
VIDEOS_LIMIT_DEFAULT, VIDEOS_LIMIT_MAX = 50, 500
RECENT_VIDEOS = 10
RECENT_DOWNLOADS = 5
# Ids are INT columns: a larger one cannot exist, and SQLite cannot even bind it.
MAX_ID = 2**31 - 1

_ARTISTS = cast(Table, Artist.__table__)
_VIDEOS = cast(Table, Video.__table__)
_DOWNLOADS = cast(Table, Download.__table__)
_PLAYLISTS = cast(Table, Playlist.__table__)
_ENTRIES = cast(Table, PlaylistEntry.__table__)
_SETTINGS = cast(Table, Setting.__table__)
_USERS = cast(Table, User.__table__)


@dataclass(frozen=True)
class Page:
    """What a page renders: `template` with `context`, answered with `status`."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200


def not_found(what: str) -> Page:
    # An HTML 404, not the JSON error: a page's missing row is the page's own answer.
    return Page(ERROR_TEMPLATE, {"status": 404, "message": f"{what} not found."}, 404)


# --- query arguments ----------------------------------------------------------------------


def clamped(raw: str | None, default: int, lo: int, hi: int) -> int:
    """A query number clamped into [lo, hi]; anything unreadable is the default."""
    try:
        value = int(raw if raw is not None else "")
    except ValueError:  # not a number, or past int()'s digit limit
        return default
    return min(max(value, lo), hi)


def status_filter(raw: str | None) -> str | None:
    """A known video status, else None: an unknown one shows everything."""
    return raw if raw in VIDEO_STATUSES else None


def _href(path: str, params: Mapping[str, object]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{path}?{query}" if query else path


# --- statements ---------------------------------------------------------------------------

_VISIBLE_PLAYLISTS = or_(
    _PLAYLISTS.c.owner_id == bindparam("viewer_id"), _PLAYLISTS.c.is_public.is_(True)
)
ARTIST_COUNT = select(func.count()).select_from(_ARTISTS)
PLAYLIST_COUNT = select(func.count()).select_from(_PLAYLISTS).where(_VISIBLE_PLAYLISTS)
VIDEO_STATUS_COUNTS = select(_VIDEOS.c.status, func.count().label("n")).group_by(_VIDEOS.c.status)
DOWNLOAD_STATUS_COUNTS = select(_DOWNLOADS.c.status, func.count().label("n")).group_by(
    _DOWNLOADS.c.status
)
_WITH_ARTIST = select(_VIDEOS, _ARTISTS.c.name.label("artist_name")).join(
    _ARTISTS, _ARTISTS.c.id == _VIDEOS.c.artist_id
)
RECENT = _WITH_ARTIST.order_by(_VIDEOS.c.created_at.desc(), _VIDEOS.c.id.desc()).limit(
    RECENT_VIDEOS
)
_VIDEO_COUNT = (
    select(func.count(_VIDEOS.c.id))
    .where(_VIDEOS.c.artist_id == _ARTISTS.c.id)
    .scalar_subquery()
    .label("video_count")
)
ARTISTS_PAGE = (
    select(_ARTISTS, _VIDEO_COUNT)
    .order_by(_ARTISTS.c.name, _ARTISTS.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
ONE_ARTIST = select(_ARTISTS).where(_ARTISTS.c.id == bindparam("id"))
ARTIST_VIDEOS = (
    select(_VIDEOS)
    .where(_VIDEOS.c.artist_id == bindparam("id"))
    .order_by(_VIDEOS.c.title, _VIDEOS.c.id)
)
ONE_VIDEO = _WITH_ARTIST.where(_VIDEOS.c.id == bindparam("id"))
VIDEO_DOWNLOADS = (
    select(_DOWNLOADS)
    .where(_DOWNLOADS.c.video_id == bindparam("id"))
    .order_by(_DOWNLOADS.c.created_at.desc(), _DOWNLOADS.c.id.desc())
    .limit(RECENT_DOWNLOADS)
)
_ENTRY_COUNT = (
    select(func.count(_ENTRIES.c.id))
    .where(_ENTRIES.c.playlist_id == _PLAYLISTS.c.id)
    .scalar_subquery()
    .label("entry_count")
)
PLAYLISTS = (
    select(_PLAYLISTS, _USERS.c.username.label("owner"), _ENTRY_COUNT)
    .join(_USERS, _USERS.c.id == _PLAYLISTS.c.owner_id)
    .where(_VISIBLE_PLAYLISTS)
    .order_by(_PLAYLISTS.c.name, _PLAYLISTS.c.id)
)
# Every visible playlist's entries in order, in one query rather than one per list.
PLAYLIST_ENTRIES = (
    select(
        _ENTRIES.c.playlist_id,
        _ENTRIES.c.position,
        _VIDEOS.c.id.label("video_id"),
        _VIDEOS.c.title,
        _ARTISTS.c.name.label("artist_name"),
    )
    .join(_PLAYLISTS, _PLAYLISTS.c.id == _ENTRIES.c.playlist_id)
    .join(_VIDEOS, _VIDEOS.c.id == _ENTRIES.c.video_id)
    .join(_ARTISTS, _ARTISTS.c.id == _VIDEOS.c.artist_id)
    .where(_VISIBLE_PLAYLISTS)
    .order_by(_ENTRIES.c.playlist_id, _ENTRIES.c.position, _ENTRIES.c.id)
)
SETTINGS = select(_SETTINGS.c.key, _SETTINGS.c.value, _SETTINGS.c.description).order_by(
    _SETTINGS.c.key
)


def _videos_where(status: str | None) -> tuple[ColumnElement[bool], ...]:
    return (_VIDEOS.c.status == status,) if status else ()


def _counts(rows: Iterable[Row], statuses: Sequence[str]) -> dict[str, int]:
    """Every status in its order, 0 where no row has it."""
    counts = dict.fromkeys(statuses, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def _plain(rows: Iterable[Row]) -> list[dict[str, Any]]:
    return [dict(row) for row in rows]


# --- pages ----------------------------------------------------------------------------------


def dashboard(viewer_id: int) -> Plan[Page]:
    artist_count = (yield ARTIST_COUNT).scalar_one()
    videos = (yield VIDEO_STATUS_COUNTS).mappings().all()
    downloads = (yield DOWNLOAD_STATUS_COUNTS).mappings().all()
    playlist_count = (yield PLAYLIST_COUNT, {"viewer_id": viewer_id}).scalar_one()
    recent = (yield RECENT).mappings().all()
    return Page(
        "dashboard.html",
        {
            "artist_count": artist_count,
            "video_counts": _counts(videos, VIDEO_STATUSES),
            "download_counts": _counts(downloads, DOWNLOAD_STATUSES),
            "playlist_count": playlist_count,
            "recent": [(video, video["artist_name"]) for video in _plain(recent)],
        },
    )


def artists(page_arg: str | None) -> Plan[Page]:
    total = (yield ARTIST_COUNT).scalar_one()
    pages = max(1, -(-total // ARTISTS_PER_PAGE))
    page_no = clamped(page_arg, 1, 1, pages)
    window = {"limit": ARTISTS_PER_PAGE, "offset": (page_no - 1) * ARTISTS_PER_PAGE}
    rows = (yield ARTISTS_PAGE, window).mappings().all()
    return Page(
        "artists.html",
        {
            "rows": [(artist, artist["video_count"]) for artist in _plain(rows)],
            "total": total,
            "page": page_no,
            "pages": pages,
            "prev_href": _href("/artists", {"page": page_no - 1}) if page_no > 1 else None,
            "next_href": _href("/artists", {"page": page_no + 1}) if page_no < pages else None,
        },
    )


def artist(artist_id: int) -> Plan[Page]:
    if artist_id > MAX_ID:
        return not_found("Artist")
    found = (yield ONE_ARTIST, {"id": artist_id}).mappings().one_or_none()
    if found is None:
        return not_found("Artist")
    videos = _plain((yield ARTIST_VIDEOS, {"id": artist_id}).mappings())
    counts = dict.fromkeys(VIDEO_STATUSES, 0)
    for video in videos:
        counts[video["status"]] = counts.get(video["status"], 0) + 1
    return Page("artist.html", {"artist": dict(found), "videos": videos, "counts": counts})


def videos(status_arg: str | None, limit_arg: str | None, offset_arg: str | None) -> Plan[Page]:
    status = status_filter(status_arg)
    where = _videos_where(status)
    total = (yield select(func.count()).select_from(_VIDEOS).where(*where)).scalar_one()
    limit = clamped(limit_arg, VIDEOS_LIMIT_DEFAULT, 1, VIDEOS_LIMIT_MAX)
    offset = clamped(offset_arg, 0, 0, total)
    listed = (
        _WITH_ARTIST.where(*where)
        .order_by(_ARTISTS.c.name, _VIDEOS.c.title, _VIDEOS.c.id)
        .limit(limit)
        .offset(offset)
    )
    rows = _plain((yield listed).mappings())
    counts = (yield VIDEO_STATUS_COUNTS).mappings().all()
    keep = {"status": status, "limit": limit if limit != VIDEOS_LIMIT_DEFAULT else None}
    prev_offset = max(0, offset - limit) or None  # the first page carries no offset
    return Page(
        "videos.html",
        {
            "rows": [(video, video["artist_name"]) for video in rows],
            "status": status,
            "statuses": VIDEO_STATUSES,
            "status_counts": _counts(counts, VIDEO_STATUSES),
            "total": total,
            "first": offset + 1 if rows else 0,
            "last": offset + len(rows),
            "prev_href": _href("/videos", {**keep, "offset": prev_offset}) if offset else None,
            "next_href": (
                _href("/videos", {**keep, "offset": offset + limit})
                if offset + limit < total
                else None
            ),
        },
    )


def video(video_id: int, can_download: bool) -> Plan[Page]:
    if video_id > MAX_ID:
        return not_found("Video")
    found = (yield ONE_VIDEO, {"id": video_id}).mappings().one_or_none()
    if found is None:
        return not_found("Video")
    downloads = _plain((yield VIDEO_DOWNLOADS, {"id": video_id}).mappings())
    return Page(
        "video.html",
        {
            "video": dict(found),
            "artist_name": found["artist_name"],
            "downloads": downloads,
            "can_download": can_download,
        },
    )


def playlists(viewer_id: int) -> Plan[Page]:
    visible = {"viewer_id": viewer_id}
    rows = _plain((yield PLAYLISTS, visible).mappings())
    entries: dict[int, list[tuple[Any, ...]]] = {}
    for entry in (yield PLAYLIST_ENTRIES, visible).mappings():
        entries.setdefault(entry["playlist_id"], []).append(
            (
                entry["playlist_id"],
                entry["position"],
                entry["video_id"],
                entry["title"],
                entry["artist_name"],
            )
        )
    return Page(
        "playlists.html",
        {
            "rows": [(p, p["owner"], p["entry_count"]) for p in rows],
            "entries": entries,
            "viewer_id": viewer_id,
        },
    )


def settings() -> Plan[Page]:
    rows = (yield SETTINGS).mappings().all()
    items = [setting_row_json(row, mask=True) for row in rows]
    for item in items:
        item["display"] = _display(item["value"])
    return Page("settings.html", {"settings": items})


def _display(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
