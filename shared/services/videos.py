"""Videos: the paged list, search, one video, create, update, status, delete (and its file)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, cast, get_args

from pydantic import AfterValidator, Field, field_validator
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import exists as exists_clause
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from shared.clock import utcnow
from shared.db.base import MAX_ID
from shared.db.models import VIDEO_STATUSES, Artist, Video
from shared.db.plan import Plan
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.media.paths import from_stored
from shared.pagination import LimitOffset
from shared.serializers import Row, video_json
from shared.services import valid_id
from shared.services.artists import (
    MAX_BULK_IDS,
    MAX_INT32,
    MAX_SEARCH,
    DbId,
    ExternalId,
    HttpUrl,
    IdsBody,
    contains_ci,
    http_url,
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
# Core statements on the tables, pure and free of IO: the Flask side executes them on its
# sync Session, the twins await them on their AsyncConnection, and both turn the rows into
# JSON with the same functions below (see fastapi_app/deps.py for the pattern).

VIDEOS = cast(Table, Video.__table__)
ARTISTS = cast(Table, Artist.__table__)
_ARTIST_NAME = ARTISTS.c.name.label("artist_name")


def video_rows_stmt() -> Select[Any]:
    """Videos with their artist's name, from one join: never a lookup per row."""
    return select(VIDEOS, _ARTIST_NAME).join_from(
        VIDEOS, ARTISTS, ARTISTS.c.id == VIDEOS.c.artist_id
    )


def video_filters(query: VideoQuery, videos: FromClause = VIDEOS) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if query.status is not None:
        filters.append(videos.c.status == query.status)
    if query.artist_id is not None:
        filters.append(videos.c.artist_id == query.artist_id)
    return filters


def videos_total_stmt(query: VideoQuery) -> Select[Any]:
    return select(func.count(VIDEOS.c.id).label("total")).where(*video_filters(query))


# Remembered per query and page: building the page (subqueries, joins, their column
# proxies) cost more CPU than MariaDB spends running it. A statement is immutable, so one
# object serves every thread and task, and its compiled-cache key is worked out once.
# Bounded, as offsets are endless.
@functools.lru_cache(maxsize=512)
def videos_page_stmt(query: VideoQuery, page: LimitOffset) -> Select[Any]:
    """One page of videos with their artists' names, and the total, in one round trip.

    The page is cut from videos alone, then joined: given the join, MariaDB drives it from
    the smaller artists table and sorts every matching video in a temporary table before
    the LIMIT (about 20 ms at 10,000 videos); cut first, the page walks an index and stops.
    The count is a one-row derived table the page is left-joined to, so that a page past
    the end still answers its total (one row, its video columns NULL): one statement
    where there were two, and both read the same snapshot.
    """
    # id last, in the same direction: stable pages, and "desc" is exactly "asc" reversed.
    # NULL years sort first ascending on both SQLite and MariaDB, so they agree.
    names = [query.sort, "id"] if query.sort != "id" else ["id"]

    def ordered(table: FromClause) -> list[ColumnElement[Any]]:
        keys = [table.c[name] for name in names]
        return [k.desc() if query.descending else k.asc() for k in keys]

    cut = (
        select(VIDEOS)
        .where(*video_filters(query))
        .order_by(*ordered(VIDEOS))
        .limit(page.limit)
        .offset(page.offset)
        .subquery("page")
    )
    total = videos_total_stmt(query).subquery("total")
    # Left-deep (every video has its artist, so the outer join to artists loses nothing):
    # MariaDB's compiler lints a join nested on the right as a cartesian product.
    joined = total.outerjoin(cut, true()).outerjoin(ARTISTS, ARTISTS.c.id == cut.c.artist_id)
    return select(total.c.total, cut, _ARTIST_NAME).select_from(joined).order_by(*ordered(cut))


def search_stmt(q: str, page: LimitOffset) -> Select[Any]:
    return (
        video_rows_stmt()
        .where(or_(contains_ci(VIDEOS.c.title, q), contains_ci(ARTISTS.c.name, q)))
        .order_by(VIDEOS.c.id)
        .limit(page.limit)
        .offset(page.offset)
    )


# Bound at execution ({"video_id": ...}): one statement object for every id.
VIDEO_STMT = video_rows_stmt().where(VIDEOS.c.id == bindparam("video_id"))
# The artist left-joined to its videos: an unknown artist is no row (a 404), an artist
# without videos one row with NULL video columns, in one round trip.
ARTIST_VIDEOS_STMT = (
    select(VIDEOS, _ARTIST_NAME)
    .select_from(ARTISTS.outerjoin(VIDEOS, VIDEOS.c.artist_id == ARTISTS.c.id))
    .where(ARTISTS.c.id == bindparam("artist_id"))
    .order_by(VIDEOS.c.id)
)


# --- parameters and answers from rows (both sides) ----------------------------------


def video_params(video_id: int) -> dict[str, int]:
    """VIDEO_STMT's parameters; an id out of range cannot exist (and must not reach the
    driver: past 64 bits it is an OverflowError)."""
    if not valid_id(video_id):
        raise NotFound("Video not found")
    return {"video_id": video_id}


def artist_videos_params(artist_id: int) -> dict[str, int]:
    if not valid_id(artist_id):
        raise NotFound("Artist not found")
    return {"artist_id": artist_id}


def page_json(rows: Sequence[Row], page: LimitOffset) -> dict[str, Any]:
    """The list's answer from videos_page_stmt's rows (never empty: the total's row)."""
    total = rows[0]["total"] if rows else 0
    videos = [video_json(row) for row in rows if row["id"] is not None]
    return page.envelope("videos", videos, total)


def search_json(rows: Sequence[Row], q: str) -> dict[str, Any]:
    videos = [video_json(row) for row in rows]
    return {"videos": videos, "count": len(videos), "query": q}


def one_video_json(row: Row | None) -> dict[str, Any]:
    if row is None:
        raise NotFound("Video not found")
    return video_json(row)


def artist_videos_json(rows: Sequence[Row]) -> dict[str, Any]:
    if not rows:
        raise NotFound("Artist not found")
    videos = [video_json(row) for row in rows if row["id"] is not None]
    return {"videos": videos, "count": len(videos)}


# --- reads, executed by the legacy side ----------------------------------------------


def list_videos(session: Session, query: VideoQuery, page: LimitOffset) -> dict[str, Any]:
    rows = session.execute(videos_page_stmt(query, page)).mappings().all()
    return page_json(rows, page)


def search_videos(session: Session, q: str, page: LimitOffset) -> dict[str, Any]:
    return search_json(session.execute(search_stmt(q, page)).mappings().all(), q)


def get_video(session: Session, video_id: int) -> dict[str, Any]:
    row = session.execute(VIDEO_STMT, video_params(video_id)).mappings().one_or_none()
    return one_video_json(row)


def list_artist_videos(session: Session, artist_id: int) -> dict[str, Any]:
    rows = session.execute(ARTIST_VIDEOS_STMT, artist_videos_params(artist_id))
    return artist_videos_json(rows.mappings().all())


# --- writes: plans (shared/db/plan.py), run by the legacy side on its Session and awaited
# by the twins on their connection ---------------------------------------------------


def _checks_stmt(
    artist_id: int, title: str | None, imvdb_id: int | None, exclude_id: int | None
) -> Select[Any]:
    """The artist's name and whether the title or imvdb id is taken, in one round trip
    (no row: no such artist)."""
    others = VIDEOS.c.id != exclude_id if exclude_id is not None else true()

    def taken(*where: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists_clause().where(*where, others)

    no = literal(False)
    title_taken = (
        taken(VIDEOS.c.artist_id == artist_id, VIDEOS.c.title == title) if title is not None else no
    )
    imvdb_taken = taken(VIDEOS.c.imvdb_id == imvdb_id) if imvdb_id is not None else no
    return select(
        ARTISTS.c.name, title_taken.label("title_taken"), imvdb_taken.label("imvdb_taken")
    ).where(ARTISTS.c.id == artist_id)


def _checked_artist(
    artist_id: int, title: str | None, imvdb_id: int | None, exclude_id: int | None = None
) -> Plan[str]:
    """The artist's name; 400 without such an artist, 409 when the title (for that artist)
    or the imvdb id belongs to another video, in the legacy order of those answers."""
    row = (yield _checks_stmt(artist_id, title, imvdb_id, exclude_id)).one_or_none()
    if row is None:
        raise ValidationFailed(f"artist_id: no artist with id {artist_id}")
    if row.title_taken:
        raise Conflict(f"The artist already has a video titled {title!r}")
    if row.imvdb_taken:
        raise Conflict(f"A video with imvdb_id {imvdb_id} already exists")
    name: str = row.name
    return name


def _video(video_id: int) -> Plan[Row]:
    result = yield VIDEO_STMT, video_params(video_id)
    row = result.mappings().one_or_none()
    if row is None:
        raise NotFound("Video not found")
    return row


def create_video(data: VideoCreate) -> Plan[dict[str, Any]]:
    yield from _checked_artist(data.artist_id, data.title, data.imvdb_id)
    try:
        result = yield insert(VIDEOS).values(**data.model_dump())
    except IntegrityError as exc:  # a concurrent writer between the checks and here
        raise Conflict("The video already exists") from exc
    video_id: int = result.inserted_primary_key[0]  # type: ignore[index]  # never None after an INSERT
    return video_json((yield from _video(video_id)))


def update_video(video_id: int, data: VideoUpdate) -> Plan[dict[str, Any]]:
    video = yield from _video(video_id)
    changes = data.model_dump(include=data.model_fields_set)
    artist_id: int = changes["artist_id"] if "artist_id" in changes else video["artist_id"]
    # A move to another artist can collide with a title there, even with the title unchanged.
    title = (
        changes.get("title", video["title"]) if {"title", "artist_id"} & changes.keys() else None
    )
    imvdb_id = changes.get("imvdb_id")
    if artist_id != video["artist_id"] or title is not None or imvdb_id is not None:
        yield from _checked_artist(artist_id, title, imvdb_id, exclude_id=video_id)
    # As the ORM's flush did: a value set to what it was changes nothing, updated_at included.
    changed = {key: value for key, value in changes.items() if video[key] != value}
    if changed:
        try:
            yield _update(video_id, changed)
        except IntegrityError as exc:
            raise Conflict("The video already exists") from exc
    return video_json((yield from _video(video_id)))


def _update(video_id: int, changes: Mapping[str, Any]) -> Executable:
    # updated_at through the column's onupdate, as the ORM's flush set it.
    return update(VIDEOS).where(VIDEOS.c.id == video_id).values(**changes)


def set_status(video_id: int, data: StatusBody) -> Plan[dict[str, Any]]:
    video = yield from _video(video_id)
    if video["status"] == data.status:  # unchanged, updated_at included (as the ORM did)
        return video_json(video)
    yield _update(video_id, {"status": data.status})
    return video_json((yield from _video(video_id)))


def bulk_set_status(data: BulkStatusBody) -> Plan[dict[str, Any]]:
    result = yield (
        update(VIDEOS)
        .where(VIDEOS.c.id.in_(sorted(set(data.ids))))
        .values(status=data.status, updated_at=utcnow())
    )
    return {"success": True, "updated": result.rowcount}


def bulk_delete_videos(data: IdsBody) -> Plan[dict[str, Any]]:
    result = yield delete(VIDEOS).where(VIDEOS.c.id.in_(sorted(set(data.ids))))
    return {"success": True, "deleted": result.rowcount}


_FILE_PATH_STMT = select(VIDEOS.c.file_path).where(VIDEOS.c.id == bindparam("video_id"))


def delete_video(video_id: int) -> Plan[str | None]:
    """Delete the row; returns the stored file path for the caller to remove after commit."""
    row = (yield _FILE_PATH_STMT, video_params(video_id)).one_or_none()
    if row is None:
        raise NotFound("Video not found")
    yield delete(VIDEOS).where(VIDEOS.c.id == video_id)
    file_path: str | None = row.file_path
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
