"""Videos (shared.serializers.video_json and the videos service's answers)."""

from __future__ import annotations

from fastapi_app.schemas.common import Out
from shared.services.videos import VideoStatus


class VideoOut(Out):
    id: int
    artist_id: int
    artist_name: str
    title: str
    url: str | None
    imvdb_id: int | None
    year: int | None
    duration: int | None
    status: VideoStatus
    has_file: bool
    thumbnail_url: str | None
    created_at: str
    updated_at: str


class VideoList(Out):
    """One page of videos: the LimitOffset envelope."""

    videos: list[VideoOut]
    count: int
    total: int
    offset: int
    limit: int


class VideoSearchOut(Out):
    """Search hits, with the query as understood (trimmed); no total."""

    videos: list[VideoOut]
    count: int
    query: str


class ArtistVideosOut(Out):
    """All of one artist's videos, unpaged."""

    videos: list[VideoOut]
    count: int


class BulkStatusOut(Out):
    """How many of the ids named existed and were updated."""

    success: bool
    updated: int
