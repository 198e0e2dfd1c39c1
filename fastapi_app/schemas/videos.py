"""Videos (shared.serializers.video_json and the videos service's answers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from fastapi_app.query import BLANK_IS_ABSENT, LEGACY_INT, STRIPPED, OneOf
from fastapi_app.schemas.common import Out
from shared.db.base import MAX_ID
from shared.db.models import VIDEO_STATUSES
from shared.services.artists import MAX_SEARCH
from shared.services.videos import VIDEO_SORTS, VideoQuery, VideoStatus


# In the order VideoQuery.from_args checks them, so that the first refusal is the same.
# async: see fastapi_app/schemas/paging.py.
async def video_query(
    status: Annotated[str | None, Query(), OneOf(VIDEO_STATUSES), BLANK_IS_ABSENT] = None,
    sort: Annotated[str, Query(), OneOf(VIDEO_SORTS), BLANK_IS_ABSENT] = "id",
    order: Annotated[str, Query(), OneOf(("asc", "desc")), BLANK_IS_ABSENT] = "asc",
    artist_id: Annotated[int | None, Query(ge=1, le=MAX_ID), LEGACY_INT] = None,
) -> VideoQuery:
    return VideoQuery(status=status, artist_id=artist_id, sort=sort, descending=order == "desc")


VideoQueryDep = Annotated[VideoQuery, Depends(video_query)]
# videos.search_query: trimmed, then 1 to MAX_SEARCH characters.
SearchText = Annotated[str, Query(min_length=1, max_length=MAX_SEARCH), STRIPPED]


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
