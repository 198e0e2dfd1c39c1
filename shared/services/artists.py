"""Artists: the paged list, one artist with its counts, create, update, delete, bulk delete.

Also home to the small pieces the videos and playlists services share (id bounds, URL
and id-list body types, case-insensitive search, query-string flags): they depend on
this module, never the other way round.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Label,
    Select,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy import exists as exists_clause
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from shared.clock import utcnow
from shared.db.base import MAX_ID
from shared.db.models import VIDEO_STATUSES, Artist, Video
from shared.db.plan import Plan
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.pagination import PageNumber
from shared.serializers import Row, artist_row_json
from shared.services import valid_id
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


# --- statements ----------------------------------------------------------------------
# Core statements on the tables, pure and free of IO: the Flask side executes them on its
# sync Session, the twins await them on their AsyncConnection, and both answer from the
# rows with the functions below (fastapi_app/deps.py tells the pattern).

ARTISTS = cast(Table, Artist.__table__)
VIDEOS = cast(Table, Video.__table__)
# What an answer shows of an artist (thumbnail_path is never serialized).
_COLUMNS = (
    ARTISTS.c.id,
    ARTISTS.c.name,
    ARTISTS.c.imvdb_id,
    ARTISTS.c.thumbnail_url,
    ARTISTS.c.monitored,
    ARTISTS.c.genres,
    ARTISTS.c.created_at,
    ARTISTS.c.updated_at,
)


def video_count_column() -> Label[int]:
    """Correlated count of an artist's videos: one query for the whole page, no N+1."""
    return (
        select(func.count(VIDEOS.c.id))
        .where(VIDEOS.c.artist_id == ARTISTS.c.id)
        .correlate(ARTISTS)
        .scalar_subquery()
        .label("video_count")
    )


def artist_filters(query: ArtistQuery) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if query.search is not None:
        filters.append(contains_ci(ARTISTS.c.name, query.search))
    if query.monitored is not None:
        filters.append(ARTISTS.c.monitored == query.monitored)
    return filters


def artists_total_stmt(query: ArtistQuery) -> Select[Any]:
    return select(func.count(ARTISTS.c.id).label("total")).where(*artist_filters(query))


# Remembered per query and page, as videos_page_stmt is: building it costs more CPU than
# running it, a statement is immutable, and offsets are endless (so bounded).
@functools.lru_cache(maxsize=512)
def artists_page_stmt(query: ArtistQuery, page: PageNumber) -> Select[Any]:
    """One page of artists with their video counts, and the total, in one round trip.

    The page (counts included, so that it can be sorted by them) is cut in a derived
    table; the total is a one-row derived table the page is left-joined to, so that a page
    past the end still answers its total (one row, its artist columns NULL).
    """
    # id last, in the same direction, so pages are stable and "-x" is exactly "x" reversed.
    names = [query.sort, "id"] if query.sort != "id" else ["id"]
    count = video_count_column()

    def key(name: str) -> ColumnElement[Any]:
        return count if name == "video_count" else ARTISTS.c[name]

    def ordered(keys: list[ColumnElement[Any]]) -> list[ColumnElement[Any]]:
        return [k.desc() if query.descending else k.asc() for k in keys]

    cut = (
        select(*_COLUMNS, count)
        .where(*artist_filters(query))
        .order_by(*ordered([key(name) for name in names]))
        .limit(page.per_page)
        .offset(page.offset)
        .subquery("page")
    )
    total = artists_total_stmt(query).subquery("total")
    return (
        select(total.c.total, cut)
        .select_from(total.outerjoin(cut, true()))
        .order_by(*ordered([cut.c[name] for name in names]))
    )


# One artist, its video count and its videos by status, in one round trip: the counts are
# a one-row aggregate (no GROUP BY: a row even without videos) joined to the artist, so an
# unknown artist is no row. Bound at execution ({"artist_id": ...}).
_BY_STATUS = (
    select(
        func.count(VIDEOS.c.id).label("video_count"),
        *(
            func.count(case((VIDEOS.c.status == status, VIDEOS.c.id))).label(f"n_{status}")
            for status in VIDEO_STATUSES
        ),
    )
    .where(VIDEOS.c.artist_id == bindparam("artist_id"))
    .subquery("counts")
)
ARTIST_STMT = (
    select(*_COLUMNS, _BY_STATUS)
    .select_from(ARTISTS.join(_BY_STATUS, true()))
    .where(ARTISTS.c.id == bindparam("artist_id"))
)


def _taken(name: str | None, imvdb_id: int | None, artist_id: Any = None) -> list[Label[bool]]:
    """Whether another artist than `artist_id` (none when creating) has the name, in any
    case, or the imvdb id."""
    other = ARTISTS.alias("other")
    others = other.c.id != artist_id if artist_id is not None else true()
    no = literal(False)
    name_taken = (
        exists_clause().where(func.lower(other.c.name) == func.lower(name), others)
        if name is not None
        else no
    )
    imvdb_taken = (
        exists_clause().where(other.c.imvdb_id == imvdb_id, others) if imvdb_id is not None else no
    )
    return [name_taken.label("name_taken"), imvdb_taken.label("imvdb_taken")]


def _update_stmt(name: str | None, imvdb_id: int | None) -> Select[Any]:
    """The artist with its video count, and whether the name or imvdb id it is given
    belongs to another artist, in one round trip (no row: no such artist)."""
    return select(*_COLUMNS, video_count_column(), *_taken(name, imvdb_id, ARTISTS.c.id)).where(
        ARTISTS.c.id == bindparam("artist_id")
    )


# --- parameters and answers from rows (both sides) ----------------------------------


def artist_params(artist_id: int) -> dict[str, int]:
    """ARTIST_STMT's parameters; an id out of range cannot exist (and must not reach the
    driver: past 64 bits it is an OverflowError)."""
    if not valid_id(artist_id):
        raise NotFound("Artist not found")
    return {"artist_id": artist_id}


def artists_page_json(rows: Sequence[Row], page: PageNumber) -> dict[str, Any]:
    """The list's answer from artists_page_stmt's rows (never empty: the total's row)."""
    total = rows[0]["total"] if rows else 0
    artists = [artist_row_json(row) for row in rows if row["id"] is not None]
    return page.envelope("artists", artists, total)


def one_artist_json(row: Row | None) -> dict[str, Any]:
    """One artist from ARTIST_STMT's row: its counts by status, every status present."""
    if row is None:
        raise NotFound("Artist not found")
    counts = {status: row[f"n_{status}"] for status in VIDEO_STATUSES}
    return {**artist_row_json(row), "video_counts": counts}


# --- reads, executed by the legacy side ----------------------------------------------


def list_artists(session: Session, query: ArtistQuery, page: PageNumber) -> dict[str, Any]:
    rows = session.execute(artists_page_stmt(query, page)).mappings().all()
    return artists_page_json(rows, page)


def get_artist(session: Session, artist_id: int) -> dict[str, Any]:
    row = session.execute(ARTIST_STMT, artist_params(artist_id)).mappings().one_or_none()
    return one_artist_json(row)


# --- writes: plans (shared/db/plan.py), run by the legacy side on its Session and awaited
# by the twins on their connection ---------------------------------------------------


def create_artist(data: ArtistCreate) -> Plan[dict[str, Any]]:
    taken = (yield select(*_taken(data.name, data.imvdb_id))).mappings().one()
    _refuse_taken(taken, data.name, data.imvdb_id)
    # Both stamps from one clock reading; the answer is what was written, as the ORM's was.
    now = utcnow()
    values = {**data.model_dump(), "created_at": now, "updated_at": now}
    try:
        result = yield insert(ARTISTS).values(**values)
    except IntegrityError as exc:  # a concurrent writer between the check and here
        raise Conflict("The artist already exists") from exc
    artist_id: int = result.inserted_primary_key[0]  # type: ignore[index]  # never None after an INSERT
    return artist_row_json({**values, "id": artist_id, "video_count": 0})


def update_artist(artist_id: int, data: ArtistUpdate) -> Plan[dict[str, Any]]:
    params = artist_params(artist_id)
    changes = data.model_dump(include=data.model_fields_set)
    stmt = _update_stmt(changes.get("name"), changes.get("imvdb_id"))
    row = (yield stmt, params).mappings().one_or_none()
    if row is None:
        raise NotFound("Artist not found")
    _refuse_taken(row, changes.get("name"), changes.get("imvdb_id"))
    # As the ORM's flush did: a value set to what it was changes nothing, updated_at included.
    changed = {key: value for key, value in changes.items() if row[key] != value}
    if not changed:
        return artist_row_json(row)
    changed["updated_at"] = utcnow()  # the column's onupdate, as the ORM's flush set it
    try:
        yield update(ARTISTS).where(ARTISTS.c.id == artist_id).values(**changed)
    except IntegrityError as exc:
        raise Conflict("The artist already exists") from exc
    return artist_row_json({**row, **changed})


def _refuse_taken(taken: Row, name: str | None, imvdb_id: int | None) -> None:
    """409 when the name or the imvdb id is another artist's, in the legacy order."""
    if taken["name_taken"]:
        raise Conflict(f"An artist named {name!r} already exists")
    if taken["imvdb_taken"]:
        raise Conflict(f"An artist with imvdb_id {imvdb_id} already exists")


def delete_artist(artist_id: int) -> Plan[dict[str, Any]]:
    """Videos, their playlist entries and downloads go with it, by foreign-key cascade."""
    params = artist_params(artist_id)
    result = yield delete(ARTISTS).where(ARTISTS.c.id == bindparam("artist_id")), params
    if result.rowcount == 0:
        raise NotFound("Artist not found")
    return {"success": True}


def bulk_delete_artists(data: IdsBody) -> Plan[dict[str, Any]]:
    result = yield delete(ARTISTS).where(ARTISTS.c.id.in_(sorted(set(data.ids))))
    return {"success": True, "deleted": result.rowcount}
