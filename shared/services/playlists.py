"""Playlists: the caller's and public ones, ordered entries, and the owner-or-admin writes.

Entry positions stay 0..n-1 with no gaps: every insert, removal and reorder renumbers.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from sqlalchemy import ColumnElement, Label, Select, delete, func, or_, select, true, update
from sqlalchemy.orm import Session

from shared.auth.roles import has_role
from shared.clock import utcnow
from shared.db.engine import retry_lock_races
from shared.db.models import Artist, Playlist, PlaylistEntry, Video
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.serializers import playlist_entry_json, playlist_json
from shared.services import flush_or_conflict, valid_id
from shared.services.artists import DbId, exists
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


def entry_count_column() -> Label[int]:
    """Correlated count of a playlist's entries: one query for the whole list, no N+1."""
    return (
        select(func.count(PlaylistEntry.id))
        .where(PlaylistEntry.playlist_id == Playlist.id)
        .correlate(Playlist)
        .scalar_subquery()
        .label("video_count")
    )


def visible_to(user: Caller) -> ColumnElement[bool]:
    if has_role(user.role, "admin"):
        return true()
    return or_(Playlist.owner_id == user.id, Playlist.is_public.is_(true()))


def playlists_stmt(user: Caller) -> Select[Playlist, int]:
    return select(Playlist, entry_count_column()).where(visible_to(user)).order_by(Playlist.id)


def playlist_stmt(playlist_id: int) -> Select[Playlist, int]:
    return select(Playlist, entry_count_column()).where(Playlist.id == playlist_id)


def entries_stmt(playlist_id: int) -> Select[int, int, int, str, str]:
    return (
        select(
            PlaylistEntry.id,
            PlaylistEntry.video_id,
            PlaylistEntry.position,
            Video.title,
            Artist.name,
        )
        .join(Video, Video.id == PlaylistEntry.video_id)
        .join(Artist, Artist.id == Video.artist_id)
        .where(PlaylistEntry.playlist_id == playlist_id)
        .order_by(PlaylistEntry.position, PlaylistEntry.id)
    )


# --- reads ---------------------------------------------------------------------------


def list_playlists(session: Session, user: Caller) -> dict[str, Any]:
    rows = session.execute(playlists_stmt(user)).all()
    return {"playlists": [playlist_json(p, n) for p, n in rows]}


def _with_entries(session: Session, playlist_id: int) -> dict[str, Any]:
    row = session.execute(playlist_stmt(playlist_id)).one()
    entries = [playlist_entry_json(*r) for r in session.execute(entries_stmt(playlist_id))]
    return {**playlist_json(row[0], row[1]), "entries": entries}


def get_playlist(session: Session, user: Caller, playlist_id: int) -> dict[str, Any]:
    _readable(session, user, playlist_id)
    return _with_entries(session, playlist_id)


def _load(session: Session, playlist_id: int, *, lock: bool = False) -> Playlist | None:
    if not valid_id(playlist_id):
        return None
    stmt = select(Playlist).where(Playlist.id == playlist_id)
    # The row lock serializes concurrent entry writes (MariaDB; SQLite has one writer).
    return session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()


def _can_see(user: Caller, playlist: Playlist) -> bool:
    return playlist.is_public or playlist.owner_id == user.id or has_role(user.role, "admin")


def _readable(session: Session, user: Caller, playlist_id: int) -> Playlist:
    playlist = _load(session, playlist_id)
    # Someone else's private playlist does not exist, as far as the caller can tell.
    if playlist is None or not _can_see(user, playlist):
        raise NotFound("Playlist not found")
    return playlist


def _writable(session: Session, user: Caller, playlist_id: int) -> Playlist:
    playlist = _load(session, playlist_id, lock=True)
    if playlist is None or not _can_see(user, playlist):
        raise NotFound("Playlist not found")
    if playlist.owner_id != user.id and not has_role(user.role, "admin"):
        raise Forbidden("Only the owner may change this playlist")
    return playlist


# --- playlist writes -----------------------------------------------------------------


def _check_name(session: Session, owner_id: int, name: str, exclude_id: int | None = None) -> None:
    others = Playlist.id != exclude_id if exclude_id is not None else true()
    mine = (Playlist.owner_id == owner_id) & (Playlist.name == name)
    if exists(session, select(Playlist.id).where(mine, others)):
        raise Conflict(f"A playlist named {name!r} already exists")


@retry_lock_races
def create_playlist(session: Session, user: Caller, data: PlaylistCreate) -> dict[str, Any]:
    _check_name(session, user.id, data.name)
    playlist = Playlist(owner_id=user.id, **data.model_dump())
    session.add(playlist)
    flush_or_conflict(session, "The playlist already exists")
    return {**playlist_json(playlist, 0), "entries": []}


@retry_lock_races
def update_playlist(
    session: Session, user: Caller, playlist_id: int, data: PlaylistUpdate
) -> dict[str, Any]:
    playlist = _writable(session, user, playlist_id)
    changes = data.model_dump(include=data.model_fields_set)
    if "name" in changes:
        _check_name(session, playlist.owner_id, changes["name"], exclude_id=playlist.id)
    for key, value in changes.items():
        setattr(playlist, key, value)
    flush_or_conflict(session, "The playlist already exists")
    return _with_entries(session, playlist.id)


@retry_lock_races
def delete_playlist(session: Session, user: Caller, playlist_id: int) -> dict[str, Any]:
    """Its entries go with it, by foreign-key cascade."""
    playlist = _writable(session, user, playlist_id)
    session.execute(
        delete(Playlist).where(Playlist.id == playlist.id),
        execution_options={"synchronize_session": False},
    )
    return {"success": True}


# --- entry writes --------------------------------------------------------------------


def _entry_count(session: Session, playlist_id: int) -> int:
    return (
        session.scalar(
            select(func.count(PlaylistEntry.id)).where(PlaylistEntry.playlist_id == playlist_id)
        )
        or 0
    )


def _shift(session: Session, playlist_id: int, from_position: int, by: int) -> None:
    session.execute(
        update(PlaylistEntry)
        .where(PlaylistEntry.playlist_id == playlist_id, PlaylistEntry.position >= from_position)
        .values(position=PlaylistEntry.position + by),
        execution_options={"synchronize_session": False},
    )


def _touch(playlist: Playlist) -> None:
    # Entry changes are changes to the playlist, though no column of its own row moves.
    playlist.updated_at = utcnow()


@retry_lock_races
def add_video(session: Session, user: Caller, playlist_id: int, data: EntryAdd) -> dict[str, Any]:
    playlist = _writable(session, user, playlist_id)
    if session.get(Video, data.video_id) is None:
        raise ValidationFailed(f"video_id: no video with id {data.video_id}")
    in_playlist = (PlaylistEntry.playlist_id == playlist.id) & (
        PlaylistEntry.video_id == data.video_id
    )
    if exists(session, select(PlaylistEntry.id).where(in_playlist)):
        raise Conflict("The video is already in this playlist")
    size = _entry_count(session, playlist.id)
    position = size if data.position is None else data.position
    if not 0 <= position <= size:
        raise ValidationFailed(f"position must be between 0 and {size}")
    if position < size:
        # Only when something moves: a range UPDATE locks the index gap past the playlist's
        # last entry, where the next playlist's writers insert (see retry_lock_races).
        _shift(session, playlist.id, position, 1)
    session.add(PlaylistEntry(playlist_id=playlist.id, video_id=data.video_id, position=position))
    _touch(playlist)
    flush_or_conflict(session, "The video is already in this playlist")
    return _with_entries(session, playlist.id)


@retry_lock_races
def remove_entry(session: Session, user: Caller, playlist_id: int, entry_id: int) -> dict[str, Any]:
    playlist = _writable(session, user, playlist_id)
    entry = session.get(PlaylistEntry, entry_id) if valid_id(entry_id) else None
    if entry is None or entry.playlist_id != playlist.id:
        raise NotFound("Playlist entry not found")
    position = entry.position
    session.delete(entry)
    session.flush()
    _shift(session, playlist.id, position + 1, -1)
    _touch(playlist)
    session.flush()
    return {"success": True}


@retry_lock_races
def reorder(session: Session, user: Caller, playlist_id: int, data: Reorder) -> dict[str, Any]:
    playlist = _writable(session, user, playlist_id)
    entries = session.scalars(
        select(PlaylistEntry).where(PlaylistEntry.playlist_id == playlist.id)
    ).all()
    by_id = {entry.id: entry for entry in entries}
    if len(data.entry_ids) != len(by_id) or set(data.entry_ids) != by_id.keys():
        raise ValidationFailed("entry_ids must list each entry of the playlist exactly once")
    for position, entry_id in enumerate(data.entry_ids):
        by_id[entry_id].position = position
    _touch(playlist)
    session.flush()
    return _with_entries(session, playlist.id)
