"""Artists: the paged list, one artist with its counts, create, update, delete, bulk delete.

Also home to the small pieces the videos and playlists services share (id bounds, URL
and id-list body types, case-insensitive search, query-string flags): they depend on
this module, never the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator
from sqlalchemy import ColumnElement, CursorResult, Label, Select, delete, func, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from shared.db.base import MAX_ID
from shared.db.models import VIDEO_STATUSES, Artist, Video
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.pagination import PageNumber
from shared.serializers import artist_json
from shared.services import find, flush_or_conflict, valid_id
from shared.validation import Body

# Ids beyond a signed 64-bit integer overflow SQLite's driver: such an id cannot exist.
MAX_INT32 = 2**31 - 1
MAX_SEARCH = 200
MAX_BULK_IDS = 1000

# --- shared by the library services -------------------------------------------------


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or any(ch.isspace() or ord(ch) < 32 for ch in value)
    ):
        raise ValueError("must be an http or https URL")
    return value


HttpUrl = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(http_url)]
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]
ExternalId = Annotated[int, Field(ge=1, le=MAX_ID)]


class IdsBody(Body):
    ids: list[DbId] = Field(min_length=1, max_length=MAX_BULK_IDS)


def contains_ci(
    column: ColumnElement[str] | InstrumentedAttribute[str], text: str
) -> ColumnElement[bool]:
    """Case-insensitive substring match; % and _ in `text` are literals on both databases.

    "/" is the escape character because a backslash is itself an escape in MariaDB string
    literals. Case folding is ASCII on SQLite (its lower()) and Unicode on MariaDB.
    """
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return func.lower(column).like(func.lower(f"%{escaped}%"), escape="/")


def search_arg(args: Mapping[str, str], name: str) -> str | None:
    value = (args.get(name) or "").strip()
    if len(value) > MAX_SEARCH:
        raise ValidationFailed(f"{name} must be at most {MAX_SEARCH} characters")
    return value or None


def bool_arg(args: Mapping[str, str], name: str) -> bool | None:
    raw = (args.get(name) or "").strip().lower()
    if raw == "":
        return None
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise ValidationFailed(f"{name} must be true, false, 1 or 0")


def signed_sorts(allowed: Sequence[str]) -> tuple[str, ...]:
    """Each sort key, then the same key descending."""
    return tuple(sign + key for key in allowed for sign in ("", "-"))


def sort_arg(args: Mapping[str, str], allowed: Sequence[str], default: str) -> tuple[str, bool]:
    """`?sort=name` or `?sort=-name` (descending) -> ("name", descending)."""
    raw = (args.get("sort") or "").strip() or default
    descending = raw.startswith("-")
    key = raw[1:] if descending else raw
    if key not in allowed:
        raise ValidationFailed(f"sort must be one of {', '.join(signed_sorts(allowed))}")
    return key, descending


def exists(session: Session, stmt: Select[int]) -> bool:
    return session.scalar(stmt.limit(1)) is not None


def rowcount(result: Any) -> int:
    # Session.execute is typed as Result; DML statements return a CursorResult.
    return cast(CursorResult[Any], result).rowcount


# --- artists -------------------------------------------------------------------------

ArtistName = Annotated[str, Field(min_length=1, max_length=255)]
Genres = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)]
ARTIST_SORTS = ("name", "created_at", "updated_at", "id", "video_count")


class ArtistCreate(Body):
    name: ArtistName
    imvdb_id: ExternalId | None = None
    thumbnail_url: HttpUrl | None = None
    monitored: bool = True
    genres: Genres = Field(default_factory=list)


class ArtistUpdate(Body):
    name: ArtistName | None = None
    imvdb_id: ExternalId | None = None
    thumbnail_url: HttpUrl | None = None
    monitored: bool | None = None
    genres: Genres | None = None

    @field_validator("name", "monitored", "genres", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Optional only so that a partial update may leave them out, not set them to null.
        if value is None:
            raise ValueError("may not be null")
        return value


@dataclass(frozen=True)
class ArtistQuery:
    search: str | None = None
    monitored: bool | None = None
    sort: str = "name"
    descending: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ArtistQuery:
        sort, descending = sort_arg(args, ARTIST_SORTS, "name")
        return cls(search_arg(args, "search"), bool_arg(args, "monitored"), sort, descending)


def video_count_column() -> Label[int]:
    """Correlated count of an artist's videos: one query for the whole page, no N+1."""
    return (
        select(func.count(Video.id))
        .where(Video.artist_id == Artist.id)
        .correlate(Artist)
        .scalar_subquery()
        .label("video_count")
    )


def artist_filters(query: ArtistQuery) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if query.search is not None:
        filters.append(contains_ci(Artist.name, query.search))
    if query.monitored is not None:
        filters.append(Artist.monitored == query.monitored)
    return filters


def artists_page_stmt(query: ArtistQuery, page: PageNumber) -> Select[Artist, int]:
    count = video_count_column()
    sort_column = count if query.sort == "video_count" else getattr(Artist, query.sort)
    # id last, in the same direction, so pages are stable and "-x" is exactly "x" reversed.
    keys = [sort_column, Artist.id] if query.sort != "id" else [Artist.id]
    order = [k.desc() if query.descending else k.asc() for k in keys]
    return (
        select(Artist, count)
        .where(*artist_filters(query))
        .order_by(*order)
        .limit(page.per_page)
        .offset(page.offset)
    )


def artists_total_stmt(query: ArtistQuery) -> Select[int]:
    return select(func.count(Artist.id)).where(*artist_filters(query))


def artist_stmt(artist_id: int) -> Select[Artist, int]:
    return select(Artist, video_count_column()).where(Artist.id == artist_id)


def status_counts_stmt(artist_id: int) -> Select[str, int]:
    return (
        select(Video.status, func.count(Video.id))
        .where(Video.artist_id == artist_id)
        .group_by(Video.status)
    )


def list_artists(session: Session, query: ArtistQuery, page: PageNumber) -> dict[str, Any]:
    total = session.scalar(artists_total_stmt(query)) or 0
    rows = session.execute(artists_page_stmt(query, page)).all()
    return page.envelope("artists", [artist_json(a, n) for a, n in rows], total)


def artist_row(session: Session, artist_id: int) -> tuple[Artist, int]:
    row = session.execute(artist_stmt(artist_id)).one_or_none() if valid_id(artist_id) else None
    if row is None:
        raise NotFound("Artist not found")
    return row[0], row[1]


def get_artist(session: Session, artist_id: int) -> dict[str, Any]:
    artist, count = artist_row(session, artist_id)
    counts = dict.fromkeys(VIDEO_STATUSES, 0)
    counts.update({status: n for status, n in session.execute(status_counts_stmt(artist_id))})
    return {**artist_json(artist, count), "video_counts": counts}


def _check_unique(
    session: Session, name: str | None, imvdb_id: int | None, exclude_id: int | None = None
) -> None:
    others = Artist.id != exclude_id if exclude_id is not None else true()
    same_name = func.lower(Artist.name) == func.lower(name)
    if name is not None and exists(session, select(Artist.id).where(same_name, others)):
        raise Conflict(f"An artist named {name!r} already exists")
    if imvdb_id is not None and exists(
        session, select(Artist.id).where(Artist.imvdb_id == imvdb_id, others)
    ):
        raise Conflict(f"An artist with imvdb_id {imvdb_id} already exists")


def create_artist(session: Session, data: ArtistCreate) -> dict[str, Any]:
    _check_unique(session, data.name, data.imvdb_id)
    artist = Artist(**data.model_dump())
    session.add(artist)
    flush_or_conflict(session, "The artist already exists")
    return artist_json(artist, 0)


def update_artist(session: Session, artist_id: int, data: ArtistUpdate) -> dict[str, Any]:
    artist, count = artist_row(session, artist_id)
    changes = data.model_dump(include=data.model_fields_set)
    _check_unique(session, changes.get("name"), changes.get("imvdb_id"), exclude_id=artist.id)
    for key, value in changes.items():
        setattr(artist, key, value)
    flush_or_conflict(session, "The artist already exists")
    return artist_json(artist, count)


def delete_artist(session: Session, artist_id: int) -> dict[str, Any]:
    """Videos, their playlist entries and downloads go with it, by foreign-key cascade."""
    find(session, Artist, artist_id, "Artist")
    session.execute(
        delete(Artist).where(Artist.id == artist_id),
        execution_options={"synchronize_session": False},
    )
    return {"success": True}


def bulk_delete_artists(session: Session, data: IdsBody) -> dict[str, Any]:
    result = session.execute(
        delete(Artist).where(Artist.id.in_(set(data.ids))),
        execution_options={"synchronize_session": False},
    )
    return {"success": True, "deleted": rowcount(result)}
