"""Playlists: the twins of legacy_flask/blueprints/playlists.py.

Who may see or change a playlist (owner, admin, public) is decided in the shared service,
not here: the twins only enforce the route's role level, as the Flask decorators do.

The writes commit the caller's lookup first: a write plan locks the playlist's row, and
its reads must not answer from a snapshot older than the lock (shared.services.playlists).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from fastapi_app.deps import ConnectionDep, require
from fastapi_app.docs import answers, json_body
from fastapi_app.http import body
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.common import SuccessOut
from fastapi_app.schemas.playlists import PlaylistDetailOut, PlaylistList
from shared.db.plan import arun
from shared.services import playlists as playlists_service
from shared.services.auth import Caller
from shared.services.playlists import EntryAdd, PlaylistCreate, PlaylistUpdate, Reorder

router = APIRouter(tags=["playlists"], route_class=JSONRoute)
Reader = Annotated[Caller | None, Depends(require("readonly"))]
Writer = Annotated[Caller | None, Depends(require("user"))]


@router.get("/api/playlists", response_model=None, responses=answers(PlaylistList))
async def list_playlists(user: Reader, db: ConnectionDep) -> dict[str, Any]:
    assert user is not None  # require() guarantees it
    stmt, params = playlists_service.list_query(user)
    rows = (await db.execute(stmt, params)).mappings().all()
    return playlists_service.list_json(rows)


@router.post(
    "/api/playlists",
    status_code=201,
    response_model=None,
    responses=answers(PlaylistDetailOut, 400, 409, status=201),
    openapi_extra=json_body(PlaylistCreate),
)
async def create_playlist(request: Request, user: Writer, db: ConnectionDep) -> JSONResponse:
    assert user is not None
    data = await body(request, PlaylistCreate)
    await db.commit()  # the caller's lookup: the write starts a fresh transaction
    created = await arun(db, playlists_service.create_playlist, user, data)
    await db.commit()
    return JSONResponse(created, status_code=201)


@router.get(
    "/api/playlists/{playlist_id:int}",
    response_model=None,
    responses=answers(PlaylistDetailOut, 404),
)
async def get_playlist(playlist_id: int, user: Reader, db: ConnectionDep) -> dict[str, Any]:
    assert user is not None
    params = playlists_service.playlist_params(playlist_id)
    rows = (await db.execute(playlists_service.PLAYLIST_STMT, params)).mappings().all()
    return playlists_service.detail_json(user, rows)


@router.put(
    "/api/playlists/{playlist_id:int}",
    response_model=None,
    responses=answers(PlaylistDetailOut, 400, 404, 409),
    openapi_extra=json_body(PlaylistUpdate),
)
async def update_playlist(
    playlist_id: int, request: Request, user: Writer, db: ConnectionDep
) -> dict[str, Any]:
    assert user is not None
    data = await body(request, PlaylistUpdate)
    await db.commit()  # the caller's lookup: the write starts a fresh transaction
    updated = await arun(db, playlists_service.update_playlist, user, playlist_id, data)
    await db.commit()
    return updated


@router.delete(
    "/api/playlists/{playlist_id:int}",
    response_model=None,
    responses=answers(SuccessOut, 404),
)
async def delete_playlist(playlist_id: int, user: Writer, db: ConnectionDep) -> dict[str, Any]:
    assert user is not None
    await db.commit()  # the caller's lookup: the write starts a fresh transaction
    result = await arun(db, playlists_service.delete_playlist, user, playlist_id)
    await db.commit()
    return result


@router.post(
    "/api/playlists/{playlist_id:int}/videos",
    status_code=201,
    response_model=None,
    responses=answers(PlaylistDetailOut, 400, 404, 409, status=201),
    openapi_extra=json_body(EntryAdd),
)
async def add_video(
    playlist_id: int, request: Request, user: Writer, db: ConnectionDep
) -> JSONResponse:
    assert user is not None
    data = await body(request, EntryAdd)
    await db.commit()  # the caller's lookup: the write starts a fresh transaction
    result = await arun(db, playlists_service.add_video, user, playlist_id, data)
    await db.commit()
    return JSONResponse(result, status_code=201)


# "reorder" is no int, so it never reaches remove_entry's {entry_id:int}; the methods
# differ besides (POST here, DELETE there), as in Flask.
@router.post(
    "/api/playlists/{playlist_id:int}/videos/reorder",
    response_model=None,
    responses=answers(PlaylistDetailOut, 400, 404),
    openapi_extra=json_body(Reorder),
)
async def reorder(
    playlist_id: int, request: Request, user: Writer, db: ConnectionDep
) -> dict[str, Any]:
    assert user is not None
    data = await body(request, Reorder)
    await db.commit()  # the caller's lookup: the write starts a fresh transaction
    result = await arun(db, playlists_service.reorder, user, playlist_id, data)
    await db.commit()
    return result


@router.delete(
    "/api/playlists/{playlist_id:int}/videos/{entry_id:int}",
    response_model=None,
    responses=answers(SuccessOut, 404),
)
async def remove_entry(
    playlist_id: int, entry_id: int, user: Writer, db: ConnectionDep
) -> dict[str, Any]:
    assert user is not None
    await db.commit()  # the caller's lookup: the write starts a fresh transaction
    result = await arun(db, playlists_service.remove_entry, user, playlist_id, entry_id)
    await db.commit()
    return result
