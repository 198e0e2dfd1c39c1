"""Routes that consult the metadata provider: the twins of legacy_flask/blueprints/metadata.py.

Where Flask parks a thread on the provider, these await the shared async client, so a slow
provider costs a coroutine, not a worker. The database steps around the provider calls are
the plans of shared.services.metadata, awaited on the request's connection (the one the
caller was looked up on) or, after a wait, on a fresh checkout: the connection is given
back to the pool before each wait (`_give_back`), as Flask's session gives its own back,
so that hundreds of requests waiting on the provider hold neither the pool nor a
transaction. The search does no database work but the caller's lookup.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from fastapi_app.deps import ConnectionDep, ModernDep, require
from fastapi_app.docs import answers, json_body
from fastapi_app.http import body
from fastapi_app.query import STRIPPED
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.artists import ArtistOut
from fastapi_app.schemas.metadata import DiscoverOut, SearchOut
from fastapi_app.schemas.videos import VideoOut
from fastapi_app.state import Modern
from shared.clients.metadata import AsyncMetadataClient, ProviderVideo
from shared.db.engine import end_connection
from shared.db.plan import arun
from shared.errors import NotFound
from shared.services import metadata as service
from shared.services.auth import Caller

router = APIRouter(tags=["metadata"], route_class=JSONRoute)
Manager = Annotated[Caller | None, Depends(require("manager"))]
Member = Annotated[Caller | None, Depends(require("user"))]
# service.search_query: trimmed, then 1 to QUERY_MAX characters.
SearchQuery = Annotated[str, Query(alias="q", min_length=1, max_length=service.QUERY_MAX), STRIPPED]
PROVIDER_ERRORS = (503,)  # the provider down, slow or talking nonsense


async def _give_back(db: AsyncConnection) -> None:
    """Before a provider wait: end the transaction and give the request's connection back
    to the pool (its dependency's own close, later, has nothing left to do)."""
    await end_connection(db)


@asynccontextmanager
async def _checkout(state: Modern) -> AsyncIterator[AsyncConnection]:
    """A connection for the step after a provider wait, given back when it is done
    (rolling back what it did not commit)."""
    connection = await state.engine.connect()
    try:
        yield connection
    finally:
        await end_connection(connection)


@router.post(
    "/api/artists/import-from-imvdb",
    status_code=201,
    response_model=None,
    responses=answers(ArtistOut, 400, 404, 409, *PROVIDER_ERRORS, status=201),
    openapi_extra=json_body(service.ImportArtist),
)
async def import_from_imvdb(
    request: Request, _user: Manager, db: ConnectionDep, state: ModernDep
) -> JSONResponse:
    data = await body(request, service.ImportArtist)
    await _give_back(db)
    client = state.metadata
    imvdb_id = data.imvdb_id
    if imvdb_id is None:
        assert data.name is not None  # the body needs one of the two
        found = await client.search_artists(data.name)
        imvdb_id = service.pick_match(found, data.name).imvdb_id
    detail = await client.artist(imvdb_id)
    async with _checkout(state) as fresh:
        result = await arun(fresh, service.import_artist, detail)
        await fresh.commit()
    return JSONResponse(result, status_code=201)


@router.post(
    "/api/artists/{artist_id:int}/videos/discover",
    response_model=None,
    responses=answers(DiscoverOut, 404, 409, *PROVIDER_ERRORS),
)
async def discover_videos(
    artist_id: int, _user: Manager, db: ConnectionDep, state: ModernDep
) -> dict[str, Any]:
    imvdb_id = await arun(db, service.discovery_target, artist_id)
    await _give_back(db)
    client = state.metadata
    offered = (await client.artist(imvdb_id)).videos
    async with _checkout(state) as fresh:
        todo = await arun(fresh, service.new_videos, artist_id, offered)
    # The full records, for their source URLs: at once, where Flask fetches one by one.
    lacking = [v for v in todo if v.source_url is None]
    fetched = await asyncio.gather(*(_with_source(client, v) for v in lacking))
    complete = {v.imvdb_id: v for v in fetched}
    videos = [complete.get(v.imvdb_id, v) for v in offered]
    async with _checkout(state) as fresh:
        result = await arun(fresh, service.add_discovered_videos, artist_id, videos)
        await fresh.commit()
    return result


async def _with_source(client: AsyncMetadataClient, summary: ProviderVideo) -> ProviderVideo:
    """The full record, for its source URL; the summary if the provider lost the video since."""
    try:
        return await client.video(summary.imvdb_id)
    except NotFound:
        return summary


@router.post(
    "/api/videos/{video_id:int}/refresh-metadata",
    response_model=None,
    responses=answers(VideoOut, 404, 409, *PROVIDER_ERRORS),
)
async def refresh_metadata(
    video_id: int, _user: Manager, db: ConnectionDep, state: ModernDep
) -> dict[str, Any]:
    imvdb_id = await arun(db, service.refresh_target, video_id)
    await _give_back(db)
    meta = await state.metadata.video(imvdb_id)
    async with _checkout(state) as fresh:
        result = await arun(fresh, service.apply_video_metadata, video_id, meta)
        await fresh.commit()
    return result


@router.get(
    "/api/metadata/search", response_model=None, responses=answers(SearchOut, 400, *PROVIDER_ERRORS)
)
async def search(
    _user: Member, query: SearchQuery, db: ConnectionDep, state: ModernDep
) -> dict[str, Any]:
    # The caller was looked up on `db`; nothing else here touches the database.
    await _give_back(db)
    results = await state.metadata.search_artists(query)
    return service.search_json(query, results)
