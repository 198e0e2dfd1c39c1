"""The download queue, run the legacy way: one yt-dlp thread per download in this process."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from legacy_flask.auth import current_user, require
from legacy_flask.db import db
from legacy_flask.extensions import legacy
from shared.db.plan import run
from shared.jobs.threads import DownloadThreads
from shared.realtime.emitter import ProgressEmitter
from shared.services import downloads as service

bp = Blueprint("downloads", __name__)
RUNNER_PART = "downloads"


def runner() -> DownloadThreads:
    ext = legacy()
    found = ext.parts.get(RUNNER_PART)
    if found is None:
        # Its jobs' progress goes to the Socket.IO channel (legacy_flask/realtime.py).
        publish = ProgressEmitter(ext.settings).emit
        threads = DownloadThreads(ext.sessions, ext.settings, publish=publish)
        found = ext.parts.setdefault(RUNNER_PART, threads)
    assert isinstance(found, DownloadThreads)
    return found


@bp.post("/api/videos/<int:video_id>/download")
@require("user")
def queue(video_id: int) -> tuple[Response, int]:
    user = current_user()
    db().commit()  # the plan's own transaction: see queue_download
    download_id = run(db(), service.queue_download, video_id, user.id if user else None)
    db().commit()  # the thread must find the row
    runner().submit(download_id)
    return jsonify({"success": True, "download_id": download_id}), 202


@bp.get("/api/downloads")
@require("user")
def list_downloads() -> Response:
    statement, params = service.list_query(request.args.get("status"))
    return jsonify(service.list_json(db().execute(statement, params).mappings()))


@bp.get("/api/downloads/<int:download_id>")
@require("user")
def get_download(download_id: int) -> Response:
    params = service.download_params(download_id)
    row = db().execute(service.DOWNLOAD_STMT, params).mappings().one_or_none()
    return jsonify(service.download_answer(row))


@bp.post("/api/downloads/<int:download_id>/cancel")
@require("user")
def cancel(download_id: int) -> Response:
    result = run(db(), service.cancel_download, download_id)
    db().commit()
    runner().cancel(download_id)
    return jsonify(result)


@bp.delete("/api/downloads/<int:download_id>")
@require("manager")
def delete(download_id: int) -> Response:
    result = run(db(), service.delete_download, download_id)
    db().commit()
    return jsonify(result)
