"""Playlists: the caller's and public ones, ordered entries, and the owner-or-admin writes.

Entry positions stay 0..n-1 with no gaps: every insert, removal and reorder renumbers.

Reads are Core statements and functions of their rows; writes are plans
(shared/db/plan.py), run by the legacy side on its Session and awaited by the twins on
their connection. Every write first locks the playlist's row (SELECT ... FOR UPDATE):
writers of one playlist take turns, so each one counts and renumbers the entries as the
one before it left them. That needs the plan's reads to start after the lock: the routes
commit the caller's lookup before running a write (its read view would be older than the
lock, and InnoDB's consistent reads in REPEATABLE READ answer from it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, cast

from pydantic import Field, field_validator
from sqlalchemy import (
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import exists as exists_clause
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable

from shared.auth.roles import has_role
from shared.clock import utcnow
from shared.db.models import Artist, Playlist, PlaylistEntry, Video
from shared.db.plan import Plan, retry_lock_races
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.serializers import Row, playlist_entry_json, playlist_json
from shared.services import valid_id
from shared.services.artists import DbId
from shared.services.auth import Caller
from shared.validation import Body

PlaylistName = Annotated[str, Field(min_length=1, max_length=255)]
Description = Annotated[str, Field(max_length=5000)]


class PlaylistCreate(Body):
    name: PlaylistName
    description: Description | None = None
    is_public: bool = False


class PlaylistUpdate(Body):
    name: PlaylistName | None = None
    description: Description | None = None
    is_public: bool | None = None

    @field_validator("name", "is_public", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Optional only so that a partial update may leave them out, not set them to null.
        if value is None:
            raise ValueError("may not be null")
        return value


class EntryAdd(Body):
    video_id: DbId
    position: int | None = None


class Reorder(Body):
    entry_ids: list[int]


# --- statements ----------------------------------------------------------------------

PLAYLISTS = cast(Table, Playlist.__table__)
ENTRIES = cast(Table, PlaylistEntry.__table__)
VIDEOS = cast(Table, Video.__table__)
ARTISTS = cast(Table, Artist.__table__)

# A correlated count of a playlist's entries: one query for the whole list, no N+1. On its
# own alias, so that it never correlates to the entries the detail statement joins.
_COUNTED = ENTRIES.alias("counted_entries")
_VIDEO_COUNT = (
    select(func.count(_COUNTED.c.id))
    .where(_COUNTED.c.playlist_id == PLAYLISTS.c.id)
    .correlate(PLAYLISTS)
    .scalar_subquery()
    .label("video_count")
)
_PLAYLIST_ROWS = select(PLAYLISTS, _VIDEO_COUNT)

# Bound at execution: one statement object (and one compiled form) for every request.
# An admin sees every playlist, anyone else their own and the public ones.
ALL_PLAYLISTS = _PLAYLIST_ROWS.order_by(PLAYLISTS.c.id)
VISIBLE_PLAYLISTS = _PLAYLIST_ROWS.where(
    or_(PLAYLISTS.c.owner_id == bindparam("user_id"), PLAYLISTS.c.is_public.is_(true()))
).order_by(PLAYLISTS.c.id)

# One playlist with its entries in order, in one round trip: the playlist left-joined to
# its entries (and each entry's video and artist), so an unknown playlist is no row and an
# empty one a row with NULL entry columns. Entries always have a video and the video an
# artist (NOT NULL foreign keys), so the outer joins drop nothing an inner join would keep.
PLAYLIST_STMT = (
    select(
        PLAYLISTS,
        _VIDEO_COUNT,
        ENTRIES.c.id.label("entry_id"),
        ENTRIES.c.video_id,
        ENTRIES.c.position,
        VIDEOS.c.title,
        ARTISTS.c.name.label("artist_name"),
    )
    .select_from(
        PLAYLISTS.outerjoin(ENTRIES, ENTRIES.c.playlist_id == PLAYLISTS.c.id)
        .outerjoin(VIDEOS, VIDEOS.c.id == ENTRIES.c.video_id)
        .outerjoin(ARTISTS, ARTISTS.c.id == VIDEOS.c.artist_id)
    )
    .where(PLAYLISTS.c.id == bindparam("playlist_id"))
    .order_by(ENTRIES.c.position, ENTRIES.c.id)
)

# The row lock that serializes a playlist's writers (MariaDB; SQLite has one writer).
LOCKED_PLAYLIST = (
    select(PLAYLISTS).where(PLAYLISTS.c.id == bindparam("playlist_id")).with_for_update()
)


def list_query(user: Caller) -> tuple[Select[Any], dict[str, Any]]:
    """The list statement for this caller and its parameters."""
    if has_role(user.role, "admin"):
        return ALL_PLAYLISTS, {}
    return VISIBLE_PLAYLISTS, {"user_id": user.id}


def playlist_params(playlist_id: int) -> dict[str, int]:
    """PLAYLIST_STMT's (and LOCKED_PLAYLIST's) parameters; an id out of range cannot exist
    (and must not reach the driver: past 64 bits it is an OverflowError)."""
    if not valid_id(playlist_id):
        raise NotFound("Playlist not found")
    return {"playlist_id": playlist_id}


# --- answers from rows -----------------------------------------------------------------


def list_json(rows: Sequence[Row]) -> dict[str, Any]:
    return {"playlists": [playlist_json(row) for row in rows]}


def _can_see(user: Caller, playlist: Row) -> bool:
    return bool(
        playlist["is_public"] or playlist["owner_id"] == user.id or has_role(user.role, "admin")
    )


def detail_json(user: Caller, rows: Sequence[Row]) -> dict[str, Any]:
    """The playlist of PLAYLIST_STMT's rows with its entries; 404 without a row, and for
    someone else's private playlist (it does not exist, as far as the caller can tell)."""
    if not rows or not _can_see(user, rows[0]):
        raise NotFound("Playlist not found")
    entries = [playlist_entry_json(row) for row in rows if row["entry_id"] is not None]
    return {**playlist_json(rows[0]), "entries": entries}


# --- reads: a plan, for the writes that answer with the playlist -------------------------


def get_playlist(user: Caller, playlist_id: int) -> Plan[dict[str, Any]]:
    rows = (yield PLAYLIST_STMT, playlist_params(playlist_id)).mappings().all()
    return detail_json(user, rows)


def _writable(user: Caller, playlist_id: int) -> Plan[Row]:
    """The playlist's row, locked for the rest of the transaction; 404 when the caller
    cannot see it, 403 when they see it but neither own it nor are an admin."""
    result = yield LOCKED_PLAYLIST, playlist_params(playlist_id)
    playlist = result.mappings().one_or_none()
    if playlist is None or not _can_see(user, playlist):
        raise NotFound("Playlist not found")
    if playlist["owner_id"] != user.id and not has_role(user.role, "admin"):
        raise Forbidden("Only the owner may change this playlist")
    return playlist


# --- playlist writes -----------------------------------------------------------------


def _check_name(owner_id: int, name: str, exclude_id: int | None = None) -> Plan[None]:
    others = PLAYLISTS.c.id != exclude_id if exclude_id is not None else true()
    mine = (PLAYLISTS.c.owner_id == owner_id) & (PLAYLISTS.c.name == name)
    taken = (yield select(PLAYLISTS.c.id).where(mine, others).limit(1)).first()
    if taken is not None:
        raise Conflict(f"A playlist named {name!r} already exists")


@retry_lock_races
def create_playlist(user: Caller, data: PlaylistCreate) -> Plan[dict[str, Any]]:
    yield from _check_name(user.id, data.name)
    try:
        result = yield insert(PLAYLISTS).values(owner_id=user.id, **data.model_dump())
    except IntegrityError as exc:  # a concurrent writer between the check and here
        raise Conflict("The playlist already exists") from exc
    playlist_id: int = result.inserted_primary_key[0]  # type: ignore[index]  # never None after an INSERT
    return (yield from get_playlist(user, playlist_id))


@retry_lock_races
def update_playlist(user: Caller, playlist_id: int, data: PlaylistUpdate) -> Plan[dict[str, Any]]:
    playlist = yield from _writable(user, playlist_id)
    changes = data.model_dump(include=data.model_fields_set)
    if "name" in changes:
        yield from _check_name(playlist["owner_id"], changes["name"], exclude_id=playlist_id)
    # As the ORM's flush did: a value set to what it was changes nothing, updated_at included.
    changed = {key: value for key, value in changes.items() if playlist[key] != value}
    if changed:
        try:
            # updated_at through the column's onupdate, as the ORM's flush set it.
            yield update(PLAYLISTS).where(PLAYLISTS.c.id == playlist_id).values(**changed)
        except IntegrityError as exc:
            raise Conflict("The playlist already exists") from exc
    return (yield from get_playlist(user, playlist_id))


@retry_lock_races
def delete_playlist(user: Caller, playlist_id: int) -> Plan[dict[str, Any]]:
    """Its entries go with it, by foreign-key cascade."""
    yield from _writable(user, playlist_id)
    yield delete(PLAYLISTS).where(PLAYLISTS.c.id == playlist_id)
    return {"success": True}


# --- entry writes --------------------------------------------------------------------

# What adding a video needs to know, in one round trip: whether the video exists, whether
# it is in the playlist already, and how many entries the playlist has.
_ADD_CHECKS = select(
    exists_clause().where(VIDEOS.c.id == bindparam("video_id")).label("video_exists"),
    exists_clause()
    .where(
        ENTRIES.c.playlist_id == bindparam("playlist_id"),
        ENTRIES.c.video_id == bindparam("video_id"),
    )
    .label("in_playlist"),
    select(func.count(ENTRIES.c.id))
    .where(ENTRIES.c.playlist_id == bindparam("playlist_id"))
    .scalar_subquery()
    .label("size"),
)
_ENTRY_STMT = select(ENTRIES.c.playlist_id, ENTRIES.c.position).where(
    ENTRIES.c.id == bindparam("entry_id")
)
_ENTRY_IDS = select(ENTRIES.c.id, ENTRIES.c.position).where(
    ENTRIES.c.playlist_id == bindparam("playlist_id")
)
_SET_POSITION = (
    update(ENTRIES)
    .where(ENTRIES.c.id == bindparam("entry_id"))
    .values(position=bindparam("new_position"))
)


def _shift(playlist_id: int, from_position: int, by: int) -> Executable:
    return (
        update(ENTRIES)
        .where(ENTRIES.c.playlist_id == playlist_id, ENTRIES.c.position >= from_position)
        .values(position=ENTRIES.c.position + by)
    )


def _touch(playlist_id: int) -> Executable:
    # Entry changes are changes to the playlist, though no column of its own row moves.
    return update(PLAYLISTS).where(PLAYLISTS.c.id == playlist_id).values(updated_at=utcnow())


@retry_lock_races
def add_video(user: Caller, playlist_id: int, data: EntryAdd) -> Plan[dict[str, Any]]:
    yield from _writable(user, playlist_id)
    checks = (yield _ADD_CHECKS, {"playlist_id": playlist_id, "video_id": data.video_id}).one()
    if not checks.video_exists:
        raise ValidationFailed(f"video_id: no video with id {data.video_id}")
    if checks.in_playlist:
        raise Conflict("The video is already in this playlist")
    size: int = checks.size
    position = size if data.position is None else data.position
    if not 0 <= position <= size:
        raise ValidationFailed(f"position must be between 0 and {size}")
    if position < size:
        # Only when something moves: a range UPDATE locks the index gap past the playlist's
        # last entry, where the next playlist's writers insert (see retry_lock_races).
        yield _shift(playlist_id, position, 1)
    yield _touch(playlist_id)
    try:
        yield insert(ENTRIES).values(
            playlist_id=playlist_id, video_id=data.video_id, position=position
        )
    except IntegrityError as exc:
        raise Conflict("The video is already in this playlist") from exc
    return (yield from get_playlist(user, playlist_id))


@retry_lock_races
def remove_entry(user: Caller, playlist_id: int, entry_id: int) -> Plan[dict[str, Any]]:
    yield from _writable(user, playlist_id)
    entry = None
    if valid_id(entry_id):
        entry = (yield _ENTRY_STMT, {"entry_id": entry_id}).one_or_none()
    if entry is None or entry.playlist_id != playlist_id:
        raise NotFound("Playlist entry not found")
    yield delete(ENTRIES).where(ENTRIES.c.id == entry_id)
    yield _shift(playlist_id, entry.position + 1, -1)
    yield _touch(playlist_id)
    return {"success": True}


@retry_lock_races
def reorder(user: Caller, playlist_id: int, data: Reorder) -> Plan[dict[str, Any]]:
    yield from _writable(user, playlist_id)
    rows = (yield _ENTRY_IDS, {"playlist_id": playlist_id}).all()
    positions: Mapping[int, int] = {row.id: row.position for row in rows}
    if len(data.entry_ids) != len(positions) or set(data.entry_ids) != positions.keys():
        raise ValidationFailed("entry_ids must list each entry of the playlist exactly once")
    yield _touch(playlist_id)
    # Only the entries that move, as the ORM's flush wrote them: by id, in one executemany.
    moves = [
        {"entry_id": entry_id, "new_position": position}
        for position, entry_id in enumerate(data.entry_ids)
        if positions[entry_id] != position
    ]
    if moves:
        yield _SET_POSITION, sorted(moves, key=lambda move: move["entry_id"])
    return (yield from get_playlist(user, playlist_id))
