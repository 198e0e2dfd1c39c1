"""Small row factories for the library (artists, videos, playlists); each commits its row."""

from __future__ import annotations

from itertools import count
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import Artist, Playlist, PlaylistEntry, User, Video

_serial = count(1)


def make_artist(session: Session, **fields: Any) -> Artist:
    fields.setdefault("name", f"Artist {next(_serial)}")
    fields.setdefault("genres", [])
    artist = Artist(**fields)
    session.add(artist)
    session.commit()
    return artist


def make_video(session: Session, artist: Artist, **fields: Any) -> Video:
    fields.setdefault("title", f"Video {next(_serial)}")
    video = Video(artist_id=artist.id, **fields)
    session.add(video)
    session.commit()
    return video


def make_playlist(session: Session, owner: User, **fields: Any) -> Playlist:
    fields.setdefault("name", f"Playlist {next(_serial)}")
    playlist = Playlist(owner_id=owner.id, **fields)
    session.add(playlist)
    session.commit()
    return playlist


def add_entry(session: Session, playlist: Playlist, video: Video, position: int) -> PlaylistEntry:
    entry = PlaylistEntry(playlist_id=playlist.id, video_id=video.id, position=position)
    session.add(entry)
    session.commit()
    return entry


def table_rows(session: Session, model: type[Any]) -> list[dict[str, Any]]:
    """Every row of a table as plain dicts, read in a fresh transaction.

    Rolling back first ends the session's snapshot: on MariaDB (REPEATABLE READ) an old
    transaction would not see what the app committed since. Expiring makes the identity
    map reload what the app changed.
    """
    session.rollback()
    session.expire_all()
    columns = [c.key for c in model.__table__.columns]
    found = session.scalars(select(model).order_by(*model.__table__.primary_key.columns)).all()
    return [{key: getattr(row, key) for key in columns} for row in found]
