"""Artists routes of the legacy contract: the library's artists and their videos."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from legacy_flask.auth import require
from legacy_flask.db import db
from legacy_flask.http import body
from shared.db.plan import run
from shared.pagination import PageNumber
from shared.services import artists, videos

bp = Blueprint("artists", __name__)


@bp.get("/api/artists")
@require("readonly")
def list_artists() -> Response:
    query = artists.ArtistQuery.from_args(request.args)
    page = PageNumber.from_args(request.args)
    return jsonify(artists.list_artists(db(), query, page))


@bp.post("/api/artists")
@require("manager")
def create_artist() -> tuple[Response, int]:
    data = body(artists.ArtistCreate)
    created = run(db(), artists.create_artist, data)
    db().commit()
    return jsonify(created), 201


@bp.get("/api/artists/<int:artist_id>")
@require("readonly")
def get_artist(artist_id: int) -> Response:
    return jsonify(artists.get_artist(db(), artist_id))


@bp.put("/api/artists/<int:artist_id>")
@require("manager")
def update_artist(artist_id: int) -> Response:
    data = body(artists.ArtistUpdate)
    updated = run(db(), artists.update_artist, artist_id, data)
    db().commit()
    return jsonify(updated)


@bp.delete("/api/artists/<int:artist_id>")
@require("admin")
def delete_artist(artist_id: int) -> Response:
    result = run(db(), artists.delete_artist, artist_id)
    db().commit()
    return jsonify(result)


@bp.get("/api/artists/<int:artist_id>/videos")
@require("readonly")
def artist_videos(artist_id: int) -> Response:
    return jsonify(videos.list_artist_videos(db(), artist_id))


@bp.post("/api/artists/bulk-delete")
@require("admin")
def bulk_delete() -> Response:
    data = body(artists.IdsBody)
    result = run(db(), artists.bulk_delete_artists, data)
    db().commit()
    return jsonify(result)
