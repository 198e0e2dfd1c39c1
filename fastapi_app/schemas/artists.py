"""Artists (shared.serializers.artist_json and the artists service's answers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from fastapi_app.query import BLANK_IS_ABSENT, LEGACY_BOOL, STRIPPED, OneOf
from fastapi_app.schemas.common import Out
from shared.services.artists import ARTIST_SORTS, MAX_SEARCH, ArtistQuery, signed_sorts


# In the order ArtistQuery.from_args checks them, so that the first refusal is the same.
# async: see fastapi_app/schemas/paging.py.
async def artist_query(
    sort: Annotated[
        str, Query(), OneOf(signed_sorts(ARTIST_SORTS)), BLANK_IS_ABSENT, STRIPPED
    ] = "name",
    search: Annotated[str | None, Query(max_length=MAX_SEARCH), BLANK_IS_ABSENT, STRIPPED] = None,
    monitored: Annotated[bool | None, Query(), LEGACY_BOOL] = None,
) -> ArtistQuery:
    descending = sort.startswith("-")
    return ArtistQuery(
        search=search, monitored=monitored, sort=sort.removeprefix("-"), descending=descending
    )


ArtistQueryDep = Annotated[ArtistQuery, Depends(artist_query)]


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
