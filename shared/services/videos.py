"""Videos: the paged list, search, one video, create, update, status, delete (and its file)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, Field, field_validator
from sqlalchemy import ColumnElement, Select, delete, func, or_, select, true, update
from sqlalchemy.orm import Session, aliased

from shared.clock import utcnow
from shared.db.base import MAX_ID
from shared.db.models import VIDEO_STATUSES, Artist, Video
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.media.paths import from_stored
from shared.pagination import LimitOffset
from shared.serializers import video_json
from shared.services import find, flush_or_conflict, valid_id
from shared.services.artists import (
    MAX_BULK_IDS,
    MAX_INT32,
    MAX_SEARCH,
    DbId,
    ExternalId,
    HttpUrl,
    IdsBody,
    contains_ci,
    exists,
    http_url,
    rowcount,
)
from shared.validation import Body

log = logging.getLogger("figway.videos")

VideoStatus = Literal["wanted", "downloading", "downloaded", "ignored", "failed"]
assert get_args(VideoStatus) == VIDEO_STATUSES  # one list of statuses, checked at import

VIDEO_SORTS = ("id", "title", "year", "created_at", "updated_at", "status")
Title = Annotated[str, Field(min_length=1, max_length=255)]
SourceUrl = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(http_url)]
Year = Annotated[int, Field(ge=1900, le=2100)]
Duration = Annotated[int, Field(ge=0, le=MAX_INT32)]


class VideoCreate(Body):
    artist_id: DbId
    title: Title
    url: SourceUrl | None = None
    imvdb_id: ExternalId | None = None
    year: Year | None = None
    duration: Duration | None = None
    status: VideoStatus = "wanted"
    thumbnail_url: HttpUrl | None = None


class VideoUpdate(Body):
    artist_id: DbId | None = None
    title: Title | None = None
    url: SourceUrl | None = None
    imvdb_id: ExternalId | None = None
    year: Year | None = None
    duration: Duration | None = None
    status: VideoStatus | None = None
    thumbnail_url: HttpUrl | None = None

    @field_validator("artist_id", "title", "status", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Optional only so that a partial update may leave them out, not set them to null.
        if value is None:
            raise ValueError("may not be null")
        return value


class StatusBody(Body):
    status: VideoStatus


class BulkStatusBody(Body):
    ids: list[DbId] = Field(min_length=1, max_length=MAX_BULK_IDS)
    status: VideoStatus


@dataclass(frozen=True)
class VideoQuery:
    status: str | None = None
    artist_id: int | None = None
    sort: str = "id"
    descending: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> VideoQuery:
        status = args.get("status") or None
        if status is not None and status not in VIDEO_STATUSES:
            raise ValidationFailed(f"status must be one of {', '.join(VIDEO_STATUSES)}")
        sort = args.get("sort") or "id"
        if sort not in VIDEO_SORTS:
            raise ValidationFailed(f"sort must be one of {', '.join(VIDEO_SORTS)}")
        order = args.get("order") or "asc"
        if order not in ("asc", "desc"):
            raise ValidationFailed("order must be asc or desc")
        return cls(status, _artist_id_arg(args), sort, order == "desc")


def _artist_id_arg(args: Mapping[str, str]) -> int | None:
    raw = args.get("artist_id") or ""
    if raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed("artist_id must be an integer") from None
    if not valid_id(value):
        raise ValidationFailed(f"artist_id must be between 1 and {MAX_ID}")
    return value


def search_query(args: Mapping[str, str]) -> str:
    q = (args.get("q") or "").strip()
    if not 1 <= len(q) <= MAX_SEARCH:
        raise ValidationFailed(f"q is required, 1 to {MAX_SEARCH} characters")
    return q


# --- statements ----------------------------------------------------------------------


def video_rows_stmt() -> Select[Video, str]:
    """Videos with their artist's name, from one join: never a lazy load per row."""
    return select(Video, Artist.name).join(Artist, Artist.id == Video.artist_id)


def video_filters(query: VideoQuery) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if query.status is not None:
        filters.append(Video.status == query.status)
    if query.artist_id is not None:
        filters.append(Video.artist_id == query.artist_id)
    return filters


# Remembered per query and page: building the aliased page (column proxies, the adapter)
# cost more CPU than MariaDB spends running it, about an eighth of the whole request in
# the database benchmark's profile. A statement is immutable, so one object serves every
# thread and its compiled-cache key is worked out once. Bounded, as offsets are endless.
@functools.lru_cache(maxsize=512)
def videos_page_stmt(query: VideoQuery, page: LimitOffset) -> Select[Video, str]:
    """One page of videos with their artists' names.

    The page is cut from videos alone, then joined: given the join, MariaDB drives it from
    the smaller artists table and sorts every matching video in a temporary table before
    the LIMIT (about 20 ms at 10,000 videos); cut first, the page walks an index and stops.
    """
    # id last, in the same direction: stable pages, and "desc" is exactly "asc" reversed.
    # NULL years sort first ascending on both SQLite and MariaDB, so they agree.
    names = [query.sort, "id"] if query.sort != "id" else ["id"]

    def ordered(entity: Any) -> list[ColumnElement[Any]]:
        keys = [getattr(entity, name) for name in names]
        return [k.desc() if query.descending else k.asc() for k in keys]

    cut = (
        select(Video)
        .where(*video_filters(query))
        .order_by(*ordered(Video))
        .limit(page.limit)
        .offset(page.offset)
        .subquery("page")
    )
    video = aliased(Video, cut)
    return (
        select(video, Artist.name)
        .join(Artist, Artist.id == video.artist_id)
        .order_by(*ordered(video))
    )


def videos_total_stmt(query: VideoQuery) -> Select[int]:
    return select(func.count(Video.id)).where(*video_filters(query))


def search_stmt(q: str, page: LimitOffset) -> Select[Video, str]:
    return (
        video_rows_stmt()
        .where(or_(contains_ci(Video.title, q), contains_ci(Artist.name, q)))
        .order_by(Video.id)
        .limit(page.limit)
        .offset(page.offset)
    )


def video_stmt(video_id: int) -> Select[Video, str]:
    return video_rows_stmt().where(Video.id == video_id)


def artist_videos_stmt(artist_id: int) -> Select[Video, str]:
    return video_rows_stmt().where(Video.artist_id == artist_id).order_by(Video.id)


# --- reads ---------------------------------------------------------------------------


def list_videos(session: Session, query: VideoQuery, page: LimitOffset) -> dict[str, Any]:
    total = session.scalar(videos_total_stmt(query)) or 0
    rows = session.execute(videos_page_stmt(query, page)).all()
    return page.envelope("videos", [video_json(v, name) for v, name in rows], total)


def search_videos(session: Session, q: str, page: LimitOffset) -> dict[str, Any]:
    rows = session.execute(search_stmt(q, page)).all()
    videos = [video_json(v, name) for v, name in rows]
    return {"videos": videos, "count": len(videos), "query": q}


def video_row(session: Session, video_id: int) -> tuple[Video, str]:
    row = session.execute(video_stmt(video_id)).one_or_none() if valid_id(video_id) else None
    if row is None:
        raise NotFound("Video not found")
    return row[0], row[1]


def get_video(session: Session, video_id: int) -> dict[str, Any]:
    return video_json(*video_row(session, video_id))


def list_artist_videos(session: Session, artist_id: int) -> dict[str, Any]:
    find(session, Artist, artist_id, "Artist")
    rows = session.execute(artist_videos_stmt(artist_id)).all()
    videos = [video_json(v, name) for v, name in rows]
    return {"videos": videos, "count": len(videos)}


# --- writes --------------------------------------------------------------------------


def _artist_name(session: Session, artist_id: int) -> str:
    name = session.scalar(select(Artist.name).where(Artist.id == artist_id))
    if name is None:
        raise ValidationFailed(f"artist_id: no artist with id {artist_id}")
    return name


def _check_unique(
    session: Session,
    artist_id: int,
    title: str | None,
    imvdb_id: int | None,
    exclude_id: int | None = None,
) -> None:
    others = Video.id != exclude_id if exclude_id is not None else true()
    same_title = (Video.artist_id == artist_id) & (Video.title == title)
    if title is not None and exists(session, select(Video.id).where(same_title, others)):
        raise Conflict(f"The artist already has a video titled {title!r}")
    if imvdb_id is not None and exists(
        session, select(Video.id).where(Video.imvdb_id == imvdb_id, others)
    ):
        raise Conflict(f"A video with imvdb_id {imvdb_id} already exists")


def create_video(session: Session, data: VideoCreate) -> dict[str, Any]:
    artist_name = _artist_name(session, data.artist_id)
    _check_unique(session, data.artist_id, data.title, data.imvdb_id)
    video = Video(**data.model_dump())
    session.add(video)
    flush_or_conflict(session, "The video already exists")
    return video_json(video, artist_name)


def update_video(session: Session, video_id: int, data: VideoUpdate) -> dict[str, Any]:
    video, artist_name = video_row(session, video_id)
    changes = data.model_dump(include=data.model_fields_set)
    artist_id = changes.get("artist_id", video.artist_id)
    if artist_id != video.artist_id:
        artist_name = _artist_name(session, artist_id)
    # A move to another artist can collide with a title there, even with the title unchanged.
    title = changes.get("title", video.title) if {"title", "artist_id"} & changes.keys() else None
    _check_unique(session, artist_id, title, changes.get("imvdb_id"), exclude_id=video.id)
    for key, value in changes.items():
        setattr(video, key, value)
    flush_or_conflict(session, "The video already exists")
    return video_json(video, artist_name)


def set_status(session: Session, video_id: int, data: StatusBody) -> dict[str, Any]:
    video, artist_name = video_row(session, video_id)
    video.status = data.status
    session.flush()
    return video_json(video, artist_name)


def bulk_set_status(session: Session, data: BulkStatusBody) -> dict[str, Any]:
    result = session.execute(
        update(Video)
        .where(Video.id.in_(set(data.ids)))
        .values(status=data.status, updated_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    return {"success": True, "updated": rowcount(result)}


def bulk_delete_videos(session: Session, data: IdsBody) -> dict[str, Any]:
    result = session.execute(
        delete(Video).where(Video.id.in_(set(data.ids))),
        execution_options={"synchronize_session": False},
    )
    return {"success": True, "deleted": rowcount(result)}


def delete_video(session: Session, video_id: int) -> str | None:
    """Delete the row; returns the stored file path for the caller to remove after commit."""
    video = find(session, Video, video_id, "Video")
    file_path = video.file_path
    session.execute(
        delete(Video).where(Video.id == video.id), execution_options={"synchronize_session": False}
    )
    return file_path


def remove_media_file(media_dir: Path, stored: str | None) -> bool:
    """Remove a video's file, only when its resolved path lies inside the media directory.

    Resolving first means neither "../" nor a symlink can lead the delete out of it.
    """
    if not stored:
        return False
    try:
        target = from_stored(media_dir, stored)
        if target is None or not target.is_file():
            log.warning("not removing %r: not a file inside the media directory", stored)
            return False
        target.unlink()
    except (OSError, ValueError):
        log.exception("could not remove the file of a deleted video")
        return False
    return True
