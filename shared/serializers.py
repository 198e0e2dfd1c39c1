"""The JSON each resource answers with, written once for both sides.

A serializer converted to the native data path reads a row mapping (`Row._mapping`, as
both `Session.execute(...).mappings()` and `AsyncConnection.execute(...).mappings()`
give it), so that neither side needs an ORM object to answer a read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from shared.clock import isoformat
from shared.db.models import Artist, Playlist, Setting, Video

# A row as both executors give it (RowMapping, keyed by column names) or a dict built like
# one; Any keys because RowMapping also takes Column objects as keys.
Row = Mapping[Any, Any]

SECRET_SUFFIXES = ("_key", "_secret", "_password", "_token")
MASK = "********"


class UserFields(Protocol):
    """What user_json reads: an ORM User or the caller record (shared.services.auth.Caller)."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def role(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def last_login_at(self) -> datetime | None: ...


def user_json(user: UserFields) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "created_at": isoformat(user.created_at),
        "last_login_at": isoformat(user.last_login_at),
    }


def artist_json(artist: Artist, video_count: int) -> dict[str, Any]:
    return {
        "id": artist.id,
        "name": artist.name,
        "imvdb_id": artist.imvdb_id,
        "thumbnail_url": artist.thumbnail_url,
        "monitored": artist.monitored,
        "genres": list(artist.genres or []),
        "video_count": video_count,
        "created_at": isoformat(artist.created_at),
        "updated_at": isoformat(artist.updated_at),
    }


def video_json(row: Row) -> dict[str, Any]:
    """A video from a row of shared.services.videos' statements (its columns and artist_name)."""
    return {
        "id": row["id"],
        "artist_id": row["artist_id"],
        "artist_name": row["artist_name"],
        "title": row["title"],
        "url": row["url"],
        "imvdb_id": row["imvdb_id"],
        "year": row["year"],
        "duration": row["duration"],
        "status": row["status"],
        "has_file": row["file_path"] is not None,
        "thumbnail_url": row["thumbnail_url"],
        "created_at": isoformat(row["created_at"]),
        "updated_at": isoformat(row["updated_at"]),
    }


def video_row_of(video: Video, artist_name: str) -> dict[str, Any]:
    """An ORM Video as the row video_json reads: for the writes, which still hold one."""
    row = {column.key: getattr(video, column.key) for column in Video.__table__.columns}
    row["artist_name"] = artist_name
    return row


def download_json(row: Row) -> dict[str, Any]:
    """A download from a row of shared.services.downloads' statements (its columns)."""
    return {
        "id": row["id"],
        "video_id": row["video_id"],
        "status": row["status"],
        "progress": row["progress"],
        "file_size": row["file_size"],
        "error_message": row["error_message"],
        "created_at": isoformat(row["created_at"]),
        "started_at": isoformat(row["started_at"]),
        "finished_at": isoformat(row["finished_at"]),
    }


def playlist_json(playlist: Playlist, video_count: int) -> dict[str, Any]:
    return {
        "id": playlist.id,
        "name": playlist.name,
        "description": playlist.description,
        "is_public": playlist.is_public,
        "owner_id": playlist.owner_id,
        "video_count": video_count,
        "created_at": isoformat(playlist.created_at),
        "updated_at": isoformat(playlist.updated_at),
    }


def playlist_entry_json(
    entry_id: int, video_id: int, position: int, title: str, artist_name: str
) -> dict[str, Any]:
    return {
        "id": entry_id,
        "video_id": video_id,
        "position": position,
        "title": title,
        "artist_name": artist_name,
    }


def is_secret_key(key: str) -> bool:
    return key.endswith(SECRET_SUFFIXES)


def setting_json(setting: Setting, *, mask: bool) -> dict[str, Any]:
    value = (
        MASK if mask and is_secret_key(setting.key) and setting.value is not None else setting.value
    )
    return {"key": setting.key, "value": value, "description": setting.description}
