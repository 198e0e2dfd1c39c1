"""The JSON each resource answers with, written once for both sides."""

from __future__ import annotations

from typing import Any

from shared.clock import isoformat
from shared.db.models import Artist, Download, Playlist, Setting, User, Video

SECRET_SUFFIXES = ("_key", "_secret", "_password", "_token")
MASK = "********"


def user_json(user: User) -> dict[str, Any]:
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


def video_json(video: Video, artist_name: str) -> dict[str, Any]:
    return {
        "id": video.id,
        "artist_id": video.artist_id,
        "artist_name": artist_name,
        "title": video.title,
        "url": video.url,
        "imvdb_id": video.imvdb_id,
        "year": video.year,
        "duration": video.duration,
        "status": video.status,
        "has_file": video.file_path is not None,
        "thumbnail_url": video.thumbnail_url,
        "created_at": isoformat(video.created_at),
        "updated_at": isoformat(video.updated_at),
    }


def download_json(download: Download) -> dict[str, Any]:
    return {
        "id": download.id,
        "video_id": download.video_id,
        "status": download.status,
        "progress": download.progress,
        "file_size": download.file_size,
        "error_message": download.error_message,
        "created_at": isoformat(download.created_at),
        "started_at": isoformat(download.started_at),
        "finished_at": isoformat(download.finished_at),
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
