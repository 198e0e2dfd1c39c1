"""Playlists and their entries (shared.serializers.playlist_json, playlist_entry_json)."""

from __future__ import annotations

from fastapi_app.schemas.common import Out


class PlaylistOut(Out):
    id: int
    name: str
    description: str | None
    is_public: bool
    owner_id: int
    video_count: int
    # Both columns are NOT NULL, so isoformat never gives None here.
    created_at: str
    updated_at: str


class PlaylistEntryOut(Out):
    id: int
    video_id: int
    position: int
    title: str
    artist_name: str


class PlaylistDetailOut(PlaylistOut):
    """One playlist with its entries in position order (get, create and every write)."""

    entries: list[PlaylistEntryOut]


class PlaylistList(Out):
    playlists: list[PlaylistOut]
