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
from shared.db.models import Video

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


def artist_row_json(row: Row) -> dict[str, Any]:
    """An artist from a row of shared.services.artists' statements (its columns and
    video_count)."""
    return {
        "id": row["id"],
        "name": row["name"],
        "imvdb_id": row["imvdb_id"],
        "thumbnail_url": row["thumbnail_url"],
        "monitored": row["monitored"],
        "genres": list(row["genres"] or []),
        "video_count": row["video_count"],
        "created_at": isoformat(row["created_at"]),
        "updated_at": isoformat(row["updated_at"]),
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


def playlist_json(row: Row) -> dict[str, Any]:
    """A playlist from a row of shared.services.playlists' statements (its columns and
    video_count, the number of its entries)."""
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "is_public": row["is_public"],
        "owner_id": row["owner_id"],
        "video_count": row["video_count"],
        "created_at": isoformat(row["created_at"]),
        "updated_at": isoformat(row["updated_at"]),
    }


def playlist_entry_json(row: Row) -> dict[str, Any]:
    """An entry from a row of shared.services.playlists.PLAYLIST_STMT (entry_id, video_id,
    position, and its video's title and artist_name)."""
    return {
        "id": row["entry_id"],
        "video_id": row["video_id"],
        "position": row["position"],
        "title": row["title"],
        "artist_name": row["artist_name"],
    }


def is_secret_key(key: str) -> bool:
    return key.endswith(SECRET_SUFFIXES)


def setting_row_json(row: Row, *, mask: bool) -> dict[str, Any]:
    """A setting from a row (key, value, description); a secret's value masked when asked."""
    key: str = row["key"]
    value = MASK if mask and is_secret_key(key) and row["value"] is not None else row["value"]
    return {"key": key, "value": value, "description": row["description"]}
