"""Playlists routes of the legacy contract: anyone reads public ones, owners (and admins) write."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from legacy_flask.auth import current_user, require
from legacy_flask.db import db
from legacy_flask.http import body
from shared.services import playlists
from shared.services.auth import Caller

bp = Blueprint("playlists", __name__)


def _user() -> Caller:
    user = current_user()
    assert user is not None  # @require has let only signed-in callers through
    return user


@bp.get("/api/playlists")
@require("readonly")
def list_playlists() -> Response:
    return jsonify(playlists.list_playlists(db(), _user()))


@bp.post("/api/playlists")
@require("user")
def create_playlist() -> tuple[Response, int]:
    data = body(playlists.PlaylistCreate)
    created = playlists.create_playlist(db(), _user(), data)
    db().commit()
    return jsonify(created), 201


@bp.get("/api/playlists/<int:playlist_id>")
@require("readonly")
def get_playlist(playlist_id: int) -> Response:
    return jsonify(playlists.get_playlist(db(), _user(), playlist_id))


@bp.put("/api/playlists/<int:playlist_id>")
@require("user")
def update_playlist(playlist_id: int) -> Response:
    data = body(playlists.PlaylistUpdate)
    updated = playlists.update_playlist(db(), _user(), playlist_id, data)
    db().commit()
    return jsonify(updated)


@bp.delete("/api/playlists/<int:playlist_id>")
@require("user")
def delete_playlist(playlist_id: int) -> Response:
    result = playlists.delete_playlist(db(), _user(), playlist_id)
    db().commit()
    return jsonify(result)


@bp.post("/api/playlists/<int:playlist_id>/videos")
@require("user")
def add_video(playlist_id: int) -> tuple[Response, int]:
    data = body(playlists.EntryAdd)
    result = playlists.add_video(db(), _user(), playlist_id, data)
    db().commit()
    return jsonify(result), 201


@bp.delete("/api/playlists/<int:playlist_id>/videos/<int:entry_id>")
@require("user")
def remove_entry(playlist_id: int, entry_id: int) -> Response:
    result = playlists.remove_entry(db(), _user(), playlist_id, entry_id)
    db().commit()
    return jsonify(result)


@bp.post("/api/playlists/<int:playlist_id>/videos/reorder")
@require("user")
def reorder(playlist_id: int) -> Response:
    data = body(playlists.Reorder)
    result = playlists.reorder(db(), _user(), playlist_id, data)
    db().commit()
    return jsonify(result)
