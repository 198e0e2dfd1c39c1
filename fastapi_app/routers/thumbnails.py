"""Thumbnails: the twins of legacy_flask/blueprints/media.py.

The database work is the statements and plan of shared.services.media, awaited on the
request's connection (Flask executes the same ones on its Session). Everything that blocks
(ffmpeg, Pillow, reads and writes) runs in a worker thread: the subprocess wait and
most of Pillow's decoding release the GIL, so threads keep the loop free without the
pickling a process pool would add. The reads give the connection back before the slow
part (a frame, a file sent to a slow client).
"""

from __future__ import annotations

import asyncio
import io
import re
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.types import Message, Receive

from fastapi_app.deps import ConnectionDep, SettingsDep, require
from fastapi_app.docs import answers
from fastapi_app.files import send_file
from fastapi_app.http import check_length, read_body
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.thumbnails import ArtistThumbnailOut
from shared.db.engine import end_connection
from shared.db.plan import arun
from shared.errors import ValidationFailed
from shared.serializers import Row
from shared.services import media as service
from shared.services.auth import Caller
from shared.web.options_header import parse_options_header

router = APIRouter(tags=["media"], route_class=JSONRoute)
Reader = Annotated[Caller | None, Depends(require("readonly"))]
Manager = Annotated[Caller | None, Depends(require("manager"))]

JPEG = "image/jpeg"
MULTIPART = "multipart/form-data"
# A binary 200/206 has no model (the parity runner checks models on JSON answers only);
# response_class=Response keeps FastAPI from also promising an application/json 200.
_IMAGE = {JPEG: {"schema": {"type": "string", "format": "binary"}}}
IMAGE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The JPEG image", "content": _IMAGE},
    206: {"description": "The byte range asked for with Range", "content": _IMAGE},
    304: {"description": "Not modified (If-None-Match, If-Modified-Since)"},
    **answers(None, 400, 404, 416, 503),
}
_MISSING_FILE = "file: a multipart field named 'file' is required"


async def _frame_row(db: AsyncConnection, video_id: int) -> Row | None:
    """The video's frame source, then the connection back to the pool: the frame can take
    a while, and a file's body is sent at the client's pace; hold no connection meanwhile."""
    params = service.frame_params(video_id)
    row = (await db.execute(service.FRAME_STMT, params)).mappings().one_or_none()
    await end_connection(db)
    return row


async def _artist_row(db: AsyncConnection, artist_id: int) -> Row | None:
    params = service.artist_params(artist_id)
    return (await db.execute(service.ARTIST_IMAGE_STMT, params)).mappings().one_or_none()


@router.get(
    "/api/videos/{video_id:int}/thumbnail",
    response_model=None,
    response_class=Response,
    responses=IMAGE_ANSWERS,
)
async def video_thumbnail(
    video_id: int, request: Request, _user: Reader, db: ConnectionDep, settings: SettingsDep
) -> Response:
    # frame_source's media_file is a stat or two, no read: cheap enough on the loop.
    source = service.frame_source(settings, await _frame_row(db, video_id))
    path = await asyncio.to_thread(service.ensure_video_thumbnail, settings, source)
    return await send_file(request, path, JPEG)


@router.get(
    "/api/videos/{video_id:int}/thumbnail/{size}",
    response_model=None,
    response_class=Response,
    responses=IMAGE_ANSWERS,
)
async def video_thumbnail_sized(
    video_id: int,
    size: str,
    request: Request,
    _user: Reader,
    db: ConnectionDep,
    settings: SettingsDep,
) -> Response:
    service.thumbnail_box(size)  # 400 before any work, as Flask checks it first
    # frame_source's media_file is a stat or two, no read: cheap enough on the loop.
    source = service.frame_source(settings, await _frame_row(db, video_id))
    path = await asyncio.to_thread(service.ensure_sized_thumbnail, settings, source, size)
    return await send_file(request, path, JPEG)


@router.get(
    "/api/artists/{artist_id:int}/thumbnail",
    response_model=None,
    response_class=Response,
    responses=IMAGE_ANSWERS,
)
async def artist_thumbnail(
    artist_id: int, request: Request, _user: Reader, db: ConnectionDep, settings: SettingsDep
) -> Response:
    row = await _artist_row(db, artist_id)
    await end_connection(db)  # the file goes at the client's pace; hold no connection
    # media_file's stat is no read and cheap; one service call keeps the 404s Flask's.
    path = service.artist_thumbnail_file(settings, row)
    return await send_file(request, path, JPEG)


@router.post(
    "/api/artists/{artist_id:int}/thumbnail",
    response_model=None,
    responses=answers(ArtistThumbnailOut, 400, 404, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                }
            },
        }
    },
)
async def upload_artist_thumbnail(
    artist_id: int, request: Request, _user: Manager, db: ConnectionDep, settings: SettingsDep
) -> dict[str, Any]:
    service.check_artist(await _artist_row(db, artist_id))
    upload = await _upload_file(request)
    data = await asyncio.to_thread(service.read_upload, upload, settings.max_upload_bytes)
    # Every rejection happens here, before anything is written. Pillow's decoding is CPU
    # work (most of it without the GIL): a worker thread keeps the loop serving meanwhile.
    jpeg = await asyncio.to_thread(service.prepare_artist_image, data)
    path = service.artist_thumbnail_path(settings, artist_id)
    await asyncio.to_thread(service.write_atomic, path, jpeg)
    result = await arun(db, service.set_artist_thumbnail, settings, artist_id, path)
    await db.commit()
    return result


async def _upload_file(request: Request) -> BinaryIO:
    """The part Flask's `request.files.get("file")` gives: the first *file* part named
    "file" (Starlette's form.get would give the last, file or not), as an in-memory copy.

    The body is read first, whole and bounded (the legacy 413, as Flask's
    MAX_CONTENT_LENGTH), and handed to Starlette's parser only when complete: python-
    multipart leaves an unterminated file part out of the form with its spooled file
    never closed, where werkzeug finds no files at all in such a body.
    """
    check_length(request)  # Flask refuses a declared oversize body whatever its type
    # werkzeug's reading of the header: the boundary Flask's form parser would use.
    mimetype, params = parse_options_header(request.headers.get("content-type"))
    if mimetype.lower() != MULTIPART:
        raise ValidationFailed(_MISSING_FILE)
    body = await read_body(request)
    boundary = params.get("boundary", "").encode("latin-1", "replace")
    if not boundary or b"\r\n--" + boundary + b"--" not in body:
        raise ValidationFailed(_MISSING_FILE)
    replay = Request(request.scope, _replay(_werkzeug_empty_parts(body, boundary)))
    try:
        async with replay.form() as form:
            upload = next((v for v in form.getlist("file") if isinstance(v, UploadFile)), None)
            if upload is None:
                raise ValidationFailed(_MISSING_FILE)
            # A copy: the form's spooled files close with the form.
            return io.BytesIO(await upload.read())
    except MultiPartException:
        raise ValidationFailed(_MISSING_FILE) from None  # werkzeug: no files, no error


def _werkzeug_empty_parts(body: bytes, boundary: bytes) -> bytes:
    """werkzeug's own encoder writes an empty file with no CRLF before the next delimiter,
    and its parser reads that as an empty file (Flask: "file is empty"); python-multipart
    needs the CRLF, so it is put back, right after a part's headers only."""
    b = re.escape(boundary)
    part_head = rb"(--" + b + rb"\r\n(?:[^\r\n]+\r\n)+\r\n)(--" + b + rb")"
    return re.sub(part_head, rb"\1\r\n\2", body)


def _replay(body: bytes) -> Receive:
    """The body already read, given again to Starlette's form parser."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
