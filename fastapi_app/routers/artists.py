"""Artists: the twins of legacy_flask/blueprints/artists.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from fastapi_app.deps import ConnectionDep, SessionDep, require
from fastapi_app.docs import answers, json_body
from fastapi_app.http import body
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.artists import (
    ArtistDetail,
    ArtistList,
    ArtistOut,
    ArtistQueryDep,
    BulkDeleteOut,
)
from fastapi_app.schemas.common import SuccessOut
from fastapi_app.schemas.paging import PageNumberDep
from fastapi_app.schemas.videos import ArtistVideosOut
from shared.services import artists as artists_service
from shared.services import videos as videos_service
from shared.services.artists import ArtistCreate, ArtistUpdate, IdsBody
from shared.services.auth import Caller

router = APIRouter(tags=["artists"], route_class=JSONRoute)
Reader = Annotated[Caller | None, Depends(require("readonly"))]
Manager = Annotated[Caller | None, Depends(require("manager"))]
Admin = Annotated[Caller | None, Depends(require("admin"))]


@router.get("/api/artists", response_model=None, responses=answers(ArtistList, 400))
async def list_artists(
    _user: Reader, query: ArtistQueryDep, page: PageNumberDep, session: SessionDep
) -> dict[str, Any]:
    return await session.run_sync(artists_service.list_artists, query, page)


@router.post(
    "/api/artists",
    status_code=201,
    response_model=None,
    responses=answers(ArtistOut, 400, 409, status=201),
    openapi_extra=json_body(ArtistCreate),
)
async def create_artist(request: Request, _user: Manager, session: SessionDep) -> JSONResponse:
    data = await body(request, ArtistCreate)
    created = await session.run_sync(artists_service.create_artist, data)
    await session.commit()
    return JSONResponse(created, status_code=201)


# Declared before the /api/artists/{artist_id:int} routes, as Flask prefers static rules;
# "bulk-delete" is no int anyway.
@router.post(
    "/api/artists/bulk-delete",
    response_model=None,
    responses=answers(BulkDeleteOut, 400),
    openapi_extra=json_body(IdsBody),
)
async def bulk_delete(request: Request, _user: Admin, session: SessionDep) -> dict[str, Any]:
    data = await body(request, IdsBody)
    result = await session.run_sync(artists_service.bulk_delete_artists, data)
    await session.commit()
    return result


@router.get(
    "/api/artists/{artist_id:int}", response_model=None, responses=answers(ArtistDetail, 404)
)
async def get_artist(artist_id: int, _user: Reader, session: SessionDep) -> dict[str, Any]:
    return await session.run_sync(artists_service.get_artist, artist_id)


@router.put(
    "/api/artists/{artist_id:int}",
    response_model=None,
    responses=answers(ArtistOut, 400, 404, 409),
    openapi_extra=json_body(ArtistUpdate),
)
async def update_artist(
    artist_id: int, request: Request, _user: Manager, session: SessionDep
) -> dict[str, Any]:
    data = await body(request, ArtistUpdate)
    updated = await session.run_sync(artists_service.update_artist, artist_id, data)
    await session.commit()
    return updated


@router.delete(
    "/api/artists/{artist_id:int}", response_model=None, responses=answers(SuccessOut, 404)
)
async def delete_artist(artist_id: int, _user: Admin, session: SessionDep) -> dict[str, Any]:
    result = await session.run_sync(artists_service.delete_artist, artist_id)
    await session.commit()
    return result


@router.get(
    "/api/artists/{artist_id:int}/videos",
    response_model=None,
    responses=answers(ArtistVideosOut, 404),
)
async def artist_videos(artist_id: int, _user: Reader, db: ConnectionDep) -> dict[str, Any]:
    params = videos_service.artist_videos_params(artist_id)
    result = await db.execute(videos_service.ARTIST_VIDEOS_STMT, params)
    return videos_service.artist_videos_json(result.mappings().all())
