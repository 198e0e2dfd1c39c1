"""Videos: the twins of legacy_flask/blueprints/videos.py."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from fastapi_app.deps import ConnectionDep, SettingsDep, require
from fastapi_app.docs import answers, json_body
from fastapi_app.http import body
from fastapi_app.query import LEGACY_BOOL
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.artists import BulkDeleteOut
from fastapi_app.schemas.common import SuccessOut
from fastapi_app.schemas.paging import LimitOffsetDep
from fastapi_app.schemas.videos import (
    BulkStatusOut,
    SearchText,
    VideoList,
    VideoOut,
    VideoQueryDep,
    VideoSearchOut,
)
from shared.db.plan import arun
from shared.services import videos as videos_service
from shared.services.artists import IdsBody
from shared.services.auth import Caller
from shared.services.videos import (
    BulkStatusBody,
    StatusBody,
    VideoCreate,
    VideoUpdate,
)

router = APIRouter(tags=["videos"], route_class=JSONRoute)
Reader = Annotated[Caller | None, Depends(require("readonly"))]
Writer = Annotated[Caller | None, Depends(require("user"))]
Manager = Annotated[Caller | None, Depends(require("manager"))]
Admin = Annotated[Caller | None, Depends(require("admin"))]


@router.get("/api/videos", response_model=None, responses=answers(VideoList, 400))
async def list_videos(
    _user: Reader, query: VideoQueryDep, page: LimitOffsetDep, db: ConnectionDep
) -> dict[str, Any]:
    result = await db.execute(videos_service.videos_page_stmt(query, page))
    return videos_service.page_json(result.mappings().all(), page)


# The static routes come before /api/videos/{video_id:int}, as Flask prefers them;
# "search" and "bulk" are no ints anyway.
@router.get("/api/videos/search", response_model=None, responses=answers(VideoSearchOut, 400))
async def search_videos(
    _user: Reader, q: SearchText, page: LimitOffsetDep, db: ConnectionDep
) -> dict[str, Any]:
    result = await db.execute(videos_service.search_stmt(q, page))
    return videos_service.search_json(result.mappings().all(), q)


@router.post(
    "/api/videos",
    status_code=201,
    response_model=None,
    responses=answers(VideoOut, 400, 409, status=201),
    openapi_extra=json_body(VideoCreate),
)
async def create_video(request: Request, _user: Manager, db: ConnectionDep) -> JSONResponse:
    data = await body(request, VideoCreate)
    created = await arun(db, videos_service.create_video, data)
    await db.commit()
    return JSONResponse(created, status_code=201)


@router.post(
    "/api/videos/bulk/status",
    response_model=None,
    responses=answers(BulkStatusOut, 400),
    openapi_extra=json_body(BulkStatusBody),
)
async def bulk_status(request: Request, _user: Manager, db: ConnectionDep) -> dict[str, Any]:
    data = await body(request, BulkStatusBody)
    result = await arun(db, videos_service.bulk_set_status, data)
    await db.commit()
    return result


@router.post(
    "/api/videos/bulk/delete",
    response_model=None,
    responses=answers(BulkDeleteOut, 400),
    openapi_extra=json_body(IdsBody),
)
async def bulk_delete(request: Request, _user: Admin, db: ConnectionDep) -> dict[str, Any]:
    data = await body(request, IdsBody)
    result = await arun(db, videos_service.bulk_delete_videos, data)
    await db.commit()
    return result


@router.get("/api/videos/{video_id:int}", response_model=None, responses=answers(VideoOut, 404))
async def get_video(video_id: int, _user: Reader, db: ConnectionDep) -> dict[str, Any]:
    result = await db.execute(videos_service.VIDEO_STMT, videos_service.video_params(video_id))
    return videos_service.one_video_json(result.mappings().one_or_none())


@router.put(
    "/api/videos/{video_id:int}",
    response_model=None,
    responses=answers(VideoOut, 400, 404, 409),
    openapi_extra=json_body(VideoUpdate),
)
async def update_video(
    video_id: int, request: Request, _user: Manager, db: ConnectionDep
) -> dict[str, Any]:
    data = await body(request, VideoUpdate)
    updated = await arun(db, videos_service.update_video, video_id, data)
    await db.commit()
    return updated


@router.delete(
    "/api/videos/{video_id:int}", response_model=None, responses=answers(SuccessOut, 400, 404)
)
async def delete_video(
    video_id: int,
    _user: Manager,
    db: ConnectionDep,
    settings: SettingsDep,
    delete_file: Annotated[bool, Query(), LEGACY_BOOL] = False,
) -> dict[str, Any]:
    file_path = await arun(db, videos_service.delete_video, video_id)
    await db.commit()
    # Only after the commit: a failed delete must not have lost the file. Off the loop:
    # resolving and unlinking are filesystem calls.
    if delete_file:
        await asyncio.to_thread(videos_service.remove_media_file, settings.media_dir, file_path)
    return {"success": True}


@router.put(
    "/api/videos/{video_id:int}/status",
    response_model=None,
    responses=answers(VideoOut, 400, 404),
    openapi_extra=json_body(StatusBody),
)
async def set_status(
    video_id: int, request: Request, _user: Writer, db: ConnectionDep
) -> dict[str, Any]:
    data = await body(request, StatusBody)
    updated = await arun(db, videos_service.set_status, video_id, data)
    await db.commit()
    return updated
