"""The server-rendered pages: small read queries of their own, rendered by Jinja.

Templates link with literal paths (never url_for) so the FastAPI twins of phase 4 can
render the same files. A page never answers 500 for odd query strings: a bad number
falls back to its default and an unknown status filter shows everything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, g, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from legacy_flask.auth import current_user, page
from legacy_flask.db import db
from shared.auth.roles import has_role
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
from shared.serializers import setting_json
from shared.services.auth import Caller, login_page_context

bp = Blueprint("pages", __name__)

ARTISTS_PER_PAGE = 50
VIDEOS_LIMIT_DEFAULT, VIDEOS_LIMIT_MAX = 50, 500
RECENT_VIDEOS = 10
RECENT_DOWNLOADS = 5
# Ids are INT columns: a larger one cannot exist, and SQLite cannot even bind it.
MAX_ID = 2**31 - 1


# --- template helpers -------------------------------------------------------------------


@bp.app_context_processor
def _viewer() -> dict[str, Any]:
    # Only a user the request already resolved: rendering a template never starts DB IO,
    # and error pages (403/404) still show who is logged in.
    user: Caller | None = g.get("user")
    if user is None:
        return {"viewer": None}
    return {
        "viewer": {
            "username": user.username,
            "role": user.role,
            "is_admin": has_role(user.role, "admin"),
        }
    }


@bp.app_template_filter("when")
def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


@bp.app_template_filter("duration")
def duration(seconds: int | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@bp.app_template_filter("web_url")
def web_url(value: str | None) -> str:
    """The URL if it is http(s), else "": escaping alone does not defuse javascript: links."""
    if not value:
        return ""
    return value if urlsplit(value).scheme.lower() in ("http", "https") else ""


def _display(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# --- small query helpers ----------------------------------------------------------------


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    """A query number clamped into [lo, hi]; anything unreadable is the default."""
    try:
        value = int(request.args.get(name, ""))
    except ValueError:
        return default
    return min(max(value, lo), hi)


def _count(*where: ColumnElement[bool], model: type[Any]) -> int:
    return db().scalar(select(func.count()).select_from(model).where(*where)) or 0


def _counts_by(column: InstrumentedAttribute[str], statuses: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(statuses, 0)
    rows = db().execute(select(column, func.count()).group_by(column)).all()
    counts.update({status: n for status, n in rows})
    return counts


def _visible_playlists(user: Caller) -> ColumnElement[bool]:
    return or_(Playlist.owner_id == user.id, Playlist.is_public.is_(True))


def _viewer_user() -> Caller:
    user = current_user()
    assert user is not None  # @page let the request through
    return user


def _not_found(what: str) -> ResponseReturnValue:
    # An HTML 404, not the JSON error: the errors module maps AppError to JSON.
    return render_template("error.html", status=404, message=f"{what} not found."), 404


def _href(path: str, params: Mapping[str, object]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{path}?{query}" if query else path


# --- pages ------------------------------------------------------------------------------


@bp.get("/login")
@page("public")
def login() -> ResponseReturnValue:
    return render_template("login.html", **login_page_context(request.args))


@bp.get("/")
@page("readonly")
def dashboard() -> ResponseReturnValue:
    user = _viewer_user()
    recent = (
        select(Video, Artist.name)
        .join(Artist, Artist.id == Video.artist_id)
        .order_by(Video.created_at.desc(), Video.id.desc())
        .limit(RECENT_VIDEOS)
    )
    return render_template(
        "dashboard.html",
        artist_count=_count(model=Artist),
        video_counts=_counts_by(Video.status, VIDEO_STATUSES),
        download_counts=_counts_by(Download.status, DOWNLOAD_STATUSES),
        playlist_count=_count(_visible_playlists(user), model=Playlist),
        recent=db().execute(recent).all(),
    )


@bp.get("/artists")
@page("readonly")
def artists() -> ResponseReturnValue:
    total = _count(model=Artist)
    pages = max(1, -(-total // ARTISTS_PER_PAGE))
    page_no = _int_arg("page", 1, 1, pages)
    video_count = select(func.count(Video.id)).where(Video.artist_id == Artist.id)
    listed = (
        select(Artist, video_count.scalar_subquery())
        .order_by(Artist.name, Artist.id)
        .limit(ARTISTS_PER_PAGE)
        .offset((page_no - 1) * ARTISTS_PER_PAGE)
    )
    return render_template(
        "artists.html",
        rows=db().execute(listed).all(),
        total=total,
        page=page_no,
        pages=pages,
        prev_href=_href("/artists", {"page": page_no - 1}) if page_no > 1 else None,
        next_href=_href("/artists", {"page": page_no + 1}) if page_no < pages else None,
    )


@bp.get("/artists/<int:artist_id>")
@page("readonly")
def artist(artist_id: int) -> ResponseReturnValue:
    found = db().get(Artist, artist_id) if artist_id <= MAX_ID else None
    if found is None:
        return _not_found("Artist")
    listed = select(Video).where(Video.artist_id == artist_id).order_by(Video.title, Video.id)
    videos = db().scalars(listed).all()
    counts = dict.fromkeys(VIDEO_STATUSES, 0)
    for video in videos:
        counts[video.status] = counts.get(video.status, 0) + 1
    return render_template("artist.html", artist=found, videos=videos, counts=counts)


@bp.get("/videos")
@page("readonly")
def videos() -> ResponseReturnValue:
    status = request.args.get("status")
    if status not in VIDEO_STATUSES:
        status = None
    where = [Video.status == status] if status else []
    total = _count(*where, model=Video)
    limit = _int_arg("limit", VIDEOS_LIMIT_DEFAULT, 1, VIDEOS_LIMIT_MAX)
    offset = _int_arg("offset", 0, 0, total)
    listed = (
        select(Video, Artist.name)
        .join(Artist, Artist.id == Video.artist_id)
        .where(*where)
        .order_by(Artist.name, Video.title, Video.id)
        .limit(limit)
        .offset(offset)
    )
    rows = db().execute(listed).all()
    keep = {"status": status, "limit": limit if limit != VIDEOS_LIMIT_DEFAULT else None}
    prev_offset = max(0, offset - limit) or None  # the first page carries no offset
    return render_template(
        "videos.html",
        rows=rows,
        status=status,
        statuses=VIDEO_STATUSES,
        status_counts=_counts_by(Video.status, VIDEO_STATUSES),
        total=total,
        first=offset + 1 if rows else 0,
        last=offset + len(rows),
        prev_href=_href("/videos", {**keep, "offset": prev_offset}) if offset else None,
        next_href=(
            _href("/videos", {**keep, "offset": offset + limit}) if offset + limit < total else None
        ),
    )


@bp.get("/videos/<int:video_id>")
@page("readonly")
def video(video_id: int) -> ResponseReturnValue:
    if video_id > MAX_ID:
        return _not_found("Video")
    found = select(Video, Artist.name).join(Artist, Artist.id == Video.artist_id)
    row = db().execute(found.where(Video.id == video_id)).first()
    if row is None:
        return _not_found("Video")
    recent = (
        select(Download)
        .where(Download.video_id == video_id)
        .order_by(Download.created_at.desc(), Download.id.desc())
        .limit(RECENT_DOWNLOADS)
    )
    return render_template(
        "video.html",
        video=row[0],
        artist_name=row[1],
        downloads=db().scalars(recent).all(),
        can_download=has_role(_viewer_user().role, "user"),
    )


@bp.get("/playlists")
@page("readonly")
def playlists() -> ResponseReturnValue:
    user = _viewer_user()
    entry_count = (
        select(func.count(PlaylistEntry.id))
        .where(PlaylistEntry.playlist_id == Playlist.id)
        .scalar_subquery()
    )
    listed = (
        select(Playlist, User.username, entry_count)
        .join(User, User.id == Playlist.owner_id)
        .where(_visible_playlists(user))
        .order_by(Playlist.name, Playlist.id)
    )
    return render_template(
        "playlists.html",
        rows=db().execute(listed).all(),
        entries=_entries_by_playlist(user),
        viewer_id=user.id,
    )


def _entries_by_playlist(user: Caller) -> dict[int, list[Any]]:
    """Every visible playlist's entries in order, in one query rather than one per list."""
    entries = (
        select(PlaylistEntry.playlist_id, PlaylistEntry.position, Video.id, Video.title)
        .add_columns(Artist.name)
        .join(Playlist, Playlist.id == PlaylistEntry.playlist_id)
        .join(Video, Video.id == PlaylistEntry.video_id)
        .join(Artist, Artist.id == Video.artist_id)
        .where(_visible_playlists(user))
        .order_by(PlaylistEntry.playlist_id, PlaylistEntry.position, PlaylistEntry.id)
    )
    grouped: dict[int, list[Any]] = {}
    for row in db().execute(entries):
        grouped.setdefault(row[0], []).append(row)
    return grouped


@bp.get("/settings")
@page("admin")
def settings() -> ResponseReturnValue:
    rows = db().scalars(select(Setting).order_by(Setting.key)).all()
    items = [setting_json(row, mask=True) for row in rows]
    for item in items:
        item["display"] = _display(item["value"])
    return render_template("settings.html", settings=items)
