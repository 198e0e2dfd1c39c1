"""Downloads: the twins of legacy_flask/blueprints/downloads.py, and WS /ws/downloads/<id>.

The route records the queued row (the same plan as Flask, awaited on the request's
connection) and submits its id to the runner chosen at start-up (shared/jobs/runners.py):
Celery workers with REDIS_URL, threads of this process without. It never waits for the
download itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, WebSocket
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.websockets import WebSocketDisconnect

from fastapi_app.deps import ConnectionDep, ModernDep, caller, check_level, require, state_of
from fastapi_app.docs import answers
from fastapi_app.query import OneOf
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.common import SuccessOut
from fastapi_app.schemas.downloads import DownloadList, DownloadOut, QueuedOut
from fastapi_app.state import Modern
from shared.db.engine import end_connection
from shared.db.models import DOWNLOAD_ACTIVE, DOWNLOAD_STATUSES
from shared.db.plan import arun
from shared.errors import AppError, Unavailable
from shared.services import downloads as service
from shared.services.auth import Caller

log = logging.getLogger("figway.downloads")
router = APIRouter(tags=["downloads"], route_class=JSONRoute)
Writer = Annotated[Caller | None, Depends(require("user"))]
Manager = Annotated[Caller | None, Depends(require("manager"))]

NOT_QUEUED = "Could not queue the download: the job queue is unavailable"
# How long a WebSocket waits for a published change before it reads the row itself: the
# safety net for a lost message, or a download the legacy app's threads run (they publish
# nothing).
POLL_S = 2.0
# WebSocket close codes for the legacy errors: 4000 + the HTTP status.
WS_ERROR_BASE = 4000


@router.post(
    "/api/videos/{video_id:int}/download",
    status_code=202,
    response_model=None,
    responses=answers(QueuedOut, 400, 404, 409, 503, status=202),
)
async def queue(video_id: int, user: Writer, db: ConnectionDep, state: ModernDep) -> JSONResponse:
    await db.commit()  # the plan's own transaction: see queue_download
    download_id = await arun(db, service.queue_download, video_id, user.id if user else None)
    await db.commit()  # the runner must find the row
    try:
        # In a thread: with Celery this publishes to the broker, and Celery's (kombu's)
        # publish is blocking IO with no asyncio API; the database work around it is not
        # on a thread. Its connect and send are each bounded; this bounds them together.
        # A send that ends after we gave up finds the row failed: the worker's claim skips it.
        with anyio.fail_after(state.settings.broker_timeout_s):
            await anyio.to_thread.run_sync(
                state.downloads.runner.submit, download_id, abandon_on_cancel=True
            )
    except Exception as exc:
        # The row must not wait for a job that was never sent: fail it, say so.
        log.warning("download %s: could not submit it: %r", download_id, exc)
        await arun(db, service.abandon_download, download_id, NOT_QUEUED)
        await db.commit()
        raise Unavailable(NOT_QUEUED) from exc
    return JSONResponse({"success": True, "download_id": download_id}, status_code=202)


@router.get("/api/downloads", response_model=None, responses=answers(DownloadList, 400))
async def list_downloads(
    _user: Writer,
    db: ConnectionDep,
    # A blank status is refused, as the legacy side refuses it.
    status: Annotated[str | None, Query(), OneOf(DOWNLOAD_STATUSES)] = None,
) -> dict[str, Any]:
    statement, params = service.list_query(status)
    return service.list_json((await db.execute(statement, params)).mappings())


@router.get(
    "/api/downloads/{download_id:int}", response_model=None, responses=answers(DownloadOut, 404)
)
async def get_download(download_id: int, _user: Writer, db: ConnectionDep) -> dict[str, Any]:
    params = service.download_params(download_id)
    row = (await db.execute(service.DOWNLOAD_STMT, params)).mappings().one_or_none()
    return service.download_answer(row)


@router.post(
    "/api/downloads/{download_id:int}/cancel",
    response_model=None,
    responses=answers(DownloadOut, 404, 409),
)
async def cancel(
    download_id: int, _user: Writer, db: ConnectionDep, state: ModernDep
) -> dict[str, Any]:
    result = await arun(db, service.cancel_download, download_id)
    await db.commit()
    # Embedded threads hear it at once; a Celery worker reads the row at its next
    # progress write or heartbeat.
    state.downloads.runner.cancel(download_id)
    return result


@router.delete(
    "/api/downloads/{download_id:int}",
    response_model=None,
    responses=answers(SuccessOut, 404, 409),
)
async def delete(download_id: int, _user: Manager, db: ConnectionDep) -> dict[str, Any]:
    result = await arun(db, service.delete_download, download_id)
    await db.commit()
    return result


@router.websocket("/ws/downloads/{download_id:int}")
async def progress(websocket: WebSocket, download_id: int) -> None:
    """Live progress: the download's JSON (as GET /api/downloads/<id>) on connect and on
    every change, closed with 1000 once it has ended. Auth as GET /api/downloads/<id>
    (level user, session cookie or bearer token); a refusal is the legacy error JSON, then
    a close with 4000 + its HTTP status (4401, 4403, 4404)."""
    state = state_of(websocket)
    await websocket.accept()
    try:
        async with step_connection(state) as connection:
            # caller commits the throttled last_seen_at itself, as for a request.
            check_level(await caller(websocket, state, connection), "user")
        async with state.downloads.progress.subscribe(download_id) as subscription:
            # Read after subscribing: a change in between arrives as a message, not lost.
            current = await read_download(state, download_id)
            await websocket.send_json(current)
            watch = asyncio.ensure_future(_watch(websocket, state, subscription, current))
            hang_up = asyncio.ensure_future(_until_disconnect(websocket))
            done, pending = await asyncio.wait({watch, hang_up}, return_when="FIRST_COMPLETED")
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if hang_up in done:
                return
            watch.result()
    except AppError as exc:
        await websocket.send_json(exc.body())
        await websocket.close(code=WS_ERROR_BASE + exc.status)
        return
    except WebSocketDisconnect:
        return
    await websocket.close(code=1000)


@contextlib.asynccontextmanager
async def step_connection(state: Modern) -> AsyncIterator[AsyncConnection]:
    """A connection for one step of a WebSocket (which has no request's): held only as
    long as that step, never for the life of the socket; closed as a request's is."""
    connection = await state.engine.connect()
    try:
        yield connection
    finally:
        await end_connection(connection)


async def read_download(state: Modern, download_id: int) -> dict[str, Any]:
    """GET /api/downloads/<id>'s statement and answer (a 404 once the row is gone)."""
    params = service.download_params(download_id)
    async with step_connection(state) as connection:
        result = await connection.execute(service.DOWNLOAD_STMT, params)
        row = result.mappings().one_or_none()
    return service.download_answer(row)


async def _watch(
    websocket: WebSocket, state: Modern, subscription: Any, current: dict[str, Any]
) -> None:
    """Send each change until the download has ended."""
    while current["status"] in DOWNLOAD_ACTIVE:
        latest = await subscription.next(POLL_S)
        if latest is None:
            latest = await read_download(state, current["id"])
        if latest != current:
            await websocket.send_json(latest)
            current = latest


async def _until_disconnect(websocket: WebSocket) -> None:
    """Returns when the client leaves; anything it sends is ignored."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
