"""Artists: the twins of legacy_flask/blueprints/artists.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from fastapi_app.deps import ConnectionDep, require
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
from shared.db.plan import arun
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
    _user: Reader, query: ArtistQueryDep, page: PageNumberDep, db: ConnectionDep
) -> dict[str, Any]:
    result = await db.execute(artists_service.artists_page_stmt(query, page))
    return artists_service.artists_page_json(result.mappings().all(), page)


@router.post(
    "/api/artists",
    status_code=201,
    response_model=None,
    responses=answers(ArtistOut, 400, 409, status=201),
    openapi_extra=json_body(ArtistCreate),
)
async def create_artist(request: Request, _user: Manager, db: ConnectionDep) -> JSONResponse:
    data = await body(request, ArtistCreate)
    created = await arun(db, artists_service.create_artist, data)
    await db.commit()
    return JSONResponse(created, status_code=201)


# Declared before the /api/artists/{artist_id:int} routes, as Flask prefers static rules;
# "bulk-delete" is no int anyway.
@router.post(
    "/api/artists/bulk-delete",
    response_model=None,
    responses=answers(BulkDeleteOut, 400),
    openapi_extra=json_body(IdsBody),
)
async def bulk_delete(request: Request, _user: Admin, db: ConnectionDep) -> dict[str, Any]:
    data = await body(request, IdsBody)
    result = await arun(db, artists_service.bulk_delete_artists, data)
    await db.commit()
    return result


@router.get(
    "/api/artists/{artist_id:int}", response_model=None, responses=answers(ArtistDetail, 404)
)
async def get_artist(artist_id: int, _user: Reader, db: ConnectionDep) -> dict[str, Any]:
    params = artists_service.artist_params(artist_id)
    result = await db.execute(artists_service.ARTIST_STMT, params)
    return artists_service.one_artist_json(result.mappings().one_or_none())


@router.put(
    "/api/artists/{artist_id:int}",
    response_model=None,
    responses=answers(ArtistOut, 400, 404, 409),
    openapi_extra=json_body(ArtistUpdate),
)
async def update_artist(
    artist_id: int, request: Request, _user: Manager, db: ConnectionDep
) -> dict[str, Any]:
    data = await body(request, ArtistUpdate)
    updated = await arun(db, artists_service.update_artist, artist_id, data)
    await db.commit()
    return updated


@router.delete(
    "/api/artists/{artist_id:int}", response_model=None, responses=answers(SuccessOut, 404)
)
async def delete_artist(artist_id: int, _user: Admin, db: ConnectionDep) -> dict[str, Any]:
    result = await arun(db, artists_service.delete_artist, artist_id)
    await db.commit()
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
