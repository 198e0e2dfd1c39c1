"""Videos routes of the legacy contract: the library's videos, their status and deletion."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from legacy_flask.auth import require
from legacy_flask.db import db
from legacy_flask.extensions import legacy
from legacy_flask.http import body
from shared.db.plan import run
from shared.pagination import LimitOffset
from shared.services import videos
from shared.services.artists import IdsBody, bool_arg

bp = Blueprint("videos", __name__)


@bp.get("/api/videos")
@require("readonly")
def list_videos() -> Response:
    query = videos.VideoQuery.from_args(request.args)
    page = LimitOffset.from_args(request.args)
    return jsonify(videos.list_videos(db(), query, page))


@bp.get("/api/videos/search")
@require("readonly")
def search_videos() -> Response:
    q = videos.search_query(request.args)
    page = LimitOffset.from_args(request.args)
    return jsonify(videos.search_videos(db(), q, page))


@bp.post("/api/videos")
@require("manager")
def create_video() -> tuple[Response, int]:
    data = body(videos.VideoCreate)
    created = run(db(), videos.create_video, data)
    db().commit()
    return jsonify(created), 201


@bp.get("/api/videos/<int:video_id>")
@require("readonly")
def get_video(video_id: int) -> Response:
    return jsonify(videos.get_video(db(), video_id))


@bp.put("/api/videos/<int:video_id>")
@require("manager")
def update_video(video_id: int) -> Response:
    data = body(videos.VideoUpdate)
    updated = run(db(), videos.update_video, video_id, data)
    db().commit()
    return jsonify(updated)


@bp.delete("/api/videos/<int:video_id>")
@require("manager")
def delete_video(video_id: int) -> Response:
    delete_file = bool_arg(request.args, "delete_file") or False
    file_path = run(db(), videos.delete_video, video_id)
    db().commit()
    # Only after the commit: a failed delete must not have lost the file.
    if delete_file:
        videos.remove_media_file(legacy().settings.media_dir, file_path)
    return jsonify({"success": True})


@bp.put("/api/videos/<int:video_id>/status")
@require("user")
def set_status(video_id: int) -> Response:
    data = body(videos.StatusBody)
    updated = run(db(), videos.set_status, video_id, data)
    db().commit()
    return jsonify(updated)


@bp.post("/api/videos/bulk/status")
@require("manager")
def bulk_status() -> Response:
    data = body(videos.BulkStatusBody)
    result = run(db(), videos.bulk_set_status, data)
    db().commit()
    return jsonify(result)


@bp.post("/api/videos/bulk/delete")
@require("admin")
def bulk_delete() -> Response:
    data = body(IdsBody)
    result = run(db(), videos.bulk_delete_videos, data)
    db().commit()
    return jsonify(result)
