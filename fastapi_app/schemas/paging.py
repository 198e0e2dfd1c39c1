"""The two paging styles of shared.pagination, declared as query parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from fastapi_app.query import LEGACY_INT
from shared.pagination import (
    ARTISTS_PER_PAGE_DEFAULT,
    ARTISTS_PER_PAGE_MAX,
    OFFSET_MAX,
    PAGE_MAX,
    VIDEOS_LIMIT_DEFAULT,
    VIDEOS_LIMIT_MAX,
    LimitOffset,
    PageNumber,
)


# async although pure: FastAPI runs a sync dependency on a worker thread, a hop that cost
# more than the whole of the rest of a cached list request (measured).
async def limit_offset(
    limit: Annotated[int, Query(ge=1, le=VIDEOS_LIMIT_MAX), LEGACY_INT] = VIDEOS_LIMIT_DEFAULT,
    offset: Annotated[int, Query(ge=0, le=OFFSET_MAX), LEGACY_INT] = 0,
) -> LimitOffset:
    return LimitOffset(limit=limit, offset=offset)


async def page_number(
    page: Annotated[int, Query(ge=1, le=PAGE_MAX), LEGACY_INT] = 1,
    per_page: Annotated[
        int, Query(ge=1, le=ARTISTS_PER_PAGE_MAX), LEGACY_INT
    ] = ARTISTS_PER_PAGE_DEFAULT,
) -> PageNumber:
    return PageNumber(page=page, per_page=per_page)


LimitOffsetDep = Annotated[LimitOffset, Depends(limit_offset)]
PageNumberDep = Annotated[PageNumber, Depends(page_number)]
