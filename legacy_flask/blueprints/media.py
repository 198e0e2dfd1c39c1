"""Streaming, transcoding and thumbnails, the legacy (blocking) way."""

from __future__ import annotations

import io
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from flask import Blueprint, Response, jsonify, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from legacy_flask.auth import require
from legacy_flask.db import db
from legacy_flask.extensions import legacy
from shared.db.plan import run
from shared.errors import RangeNotSatisfiable, Unavailable, ValidationFailed
from shared.media.ffmpeg import FfmpegMissing, ffmpeg_exe, transcode_command
from shared.serializers import Row
from shared.services import media as service

bp = Blueprint("media", __name__)
TRANSCODES_PART = "transcodes"
CHUNK_BYTES = 64 * 1024
RETRY_AFTER_S = "5"


@bp.get("/api/videos/<int:video_id>/stream")
@require("readonly")
def stream(video_id: int) -> Response:
    transcode = _transcode_requested()  # a bad argument is refused first, as by the twin
    path = service.video_file(db(), legacy().settings, video_id)
    if transcode:
        return _transcoded(path)
    return _send(path, service.video_mimetype(path))


def _transcode_requested() -> bool:
    value = request.args.get("transcode", "").lower()
    if value and value not in service.TRANSCODE_WORDS:
        raise ValidationFailed(f"transcode must be one of {', '.join(service.TRANSCODE_WORDS)}")
    return value in service.TRANSCODE_YES


def _send(path: Path, mimetype: str) -> Response:
    """The file with Range, ETag and Last-Modified handled by werkzeug."""
    try:
        return send_file(path, mimetype=mimetype, conditional=True, etag=True)
    except RequestedRangeNotSatisfiable:
        # Re-raised in the legacy JSON shape, keeping the header RFC 9110 asks for.
        size = path.stat().st_size
        raise RangeNotSatisfiable(
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"}
        ) from None


class _Transcode:
    """One ffmpeg process piping to one response; closing it kills and reaps the process."""

    def __init__(self, command: list[str], slots: threading.BoundedSemaphore) -> None:
        self._slots = slots
        self._closed = False
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )

    def chunks(self) -> Iterator[bytes]:
        stdout = self._proc.stdout
        assert isinstance(stdout, io.BufferedReader)
        try:
            # read1: pass on what ffmpeg has written so far instead of waiting for a full chunk.
            while chunk := stdout.read1(CHUNK_BYTES):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Idempotent: called by the generator's finally and by the response's close."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._slots.release()


def _slots() -> threading.BoundedSemaphore:
    ext = legacy()
    slots = ext.parts.setdefault(
        TRANSCODES_PART, threading.BoundedSemaphore(ext.settings.max_transcodes)
    )
    assert isinstance(slots, threading.BoundedSemaphore)
    return slots


def _transcoded(path: Path) -> Response:
    slots = _slots()
    if not slots.acquire(blocking=False):
        raise Unavailable(
            "Too many transcodes running; try again shortly", headers={"Retry-After": RETRY_AFTER_S}
        )
    try:
        job = _Transcode(transcode_command(ffmpeg_exe(legacy().settings), path), slots)
    except (FfmpegMissing, OSError) as exc:
        slots.release()
        raise Unavailable("Transcoding is not available") from exc
    response = Response(job.chunks(), mimetype="video/mp4", direct_passthrough=True)
    # A response closed before its first chunk never runs the generator's finally.
    response.call_on_close(job.close)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Accept-Ranges"] = "none"
    return response


# Thumbnails: the statements and plan of shared.services.media, which the twins
# (fastapi_app/routers/thumbnails.py) await on their connection.


def _frame_row(video_id: int) -> Row | None:
    return db().execute(service.FRAME_STMT, service.frame_params(video_id)).mappings().one_or_none()


def _artist_row(artist_id: int) -> Row | None:
    params = service.artist_params(artist_id)
    return db().execute(service.ARTIST_IMAGE_STMT, params).mappings().one_or_none()


@bp.get("/api/videos/<int:video_id>/thumbnail")
@require("readonly")
def video_thumbnail(video_id: int) -> Response:
    settings = legacy().settings
    source = service.frame_source(settings, _frame_row(video_id))
    return _send(service.ensure_video_thumbnail(settings, source), "image/jpeg")


@bp.get("/api/videos/<int:video_id>/thumbnail/<size>")
@require("readonly")
def video_thumbnail_sized(video_id: int, size: str) -> Response:
    settings = legacy().settings
    service.thumbnail_box(size)  # 400 before any work
    source = service.frame_source(settings, _frame_row(video_id))
    return _send(service.ensure_sized_thumbnail(settings, source, size), "image/jpeg")


@bp.get("/api/artists/<int:artist_id>/thumbnail")
@require("readonly")
def artist_thumbnail(artist_id: int) -> Response:
    settings = legacy().settings
    return _send(service.artist_thumbnail_file(settings, _artist_row(artist_id)), "image/jpeg")


@bp.post("/api/artists/<int:artist_id>/thumbnail")
@require("manager")
def upload_artist_thumbnail(artist_id: int) -> Response:
    settings = legacy().settings
    service.check_artist(_artist_row(artist_id))
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("file: a multipart field named 'file' is required")
    data = service.read_upload(upload.stream, settings.max_upload_bytes)
    jpeg = service.prepare_artist_image(data)  # every rejection happens before any write
    path = service.artist_thumbnail_path(settings, artist_id)
    service.write_atomic(path, jpeg)
    result = run(db(), service.set_artist_thumbnail, settings, artist_id, path)
    db().commit()
    return jsonify(result)
