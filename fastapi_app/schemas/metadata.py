"""Answers of the routes that consult the metadata provider (shared.services.metadata)."""

from __future__ import annotations

from fastapi_app.schemas.common import Out
from fastapi_app.schemas.videos import VideoOut


class SearchResultOut(Out):
    imvdb_id: int
    name: str
    slug: str | None
    image_url: str | None
    video_count: int


class SearchOut(Out):
    query: str
    results: list[SearchResultOut]
    total: int


class DiscoverOut(Out):
    success: bool
    added: int
    skipped: int
    videos: list[VideoOut]
