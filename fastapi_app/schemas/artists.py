"""Artists (shared.serializers.artist_json and the artists service's answers)."""

from __future__ import annotations

from fastapi_app.schemas.common import Out


class ArtistOut(Out):
    id: int
    name: str
    imvdb_id: int | None
    thumbnail_url: str | None
    monitored: bool
    genres: list[str]
    video_count: int
    created_at: str
    updated_at: str


class ArtistList(Out):
    """One page of artists: the PageNumber envelope."""

    artists: list[ArtistOut]
    count: int
    total: int
    page: int
    per_page: int
    pages: int


class VideoCounts(Out):
    """The artist's videos by status, every status present (0 when none)."""

    wanted: int
    downloading: int
    downloaded: int
    ignored: int
    failed: int


class ArtistDetail(ArtistOut):
    video_counts: VideoCounts


class BulkDeleteOut(Out):
    """How many of the ids named existed and were deleted."""

    success: bool
    deleted: int
