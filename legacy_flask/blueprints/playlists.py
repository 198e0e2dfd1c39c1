"""Playlists routes of the legacy contract: anyone reads public ones, owners (and admins) write.

The writes commit the caller's lookup first: a write plan locks the playlist's row, and
its reads must not answer from a snapshot older than the lock (shared.services.playlists).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from legacy_flask.auth import current_user, require
from legacy_flask.db import db
from legacy_flask.http import body
from shared.db.plan import run
from shared.services import playlists
from shared.services.auth import Caller

bp = Blueprint("playlists", __name__)


def _user() -> Caller:
    user = current_user()
    assert user is not None  # @require has let only signed-in callers through
    return user


def _writer() -> Caller:
    """The caller, with their lookup's transaction ended: the write starts a fresh one."""
    user = _user()
    db().commit()
    return user


@bp.get("/api/playlists")
@require("readonly")
def list_playlists() -> Response:
    stmt, params = playlists.list_query(_user())
    rows = db().execute(stmt, params).mappings().all()
    return jsonify(playlists.list_json(rows))


@bp.post("/api/playlists")
@require("user")
def create_playlist() -> tuple[Response, int]:
    data = body(playlists.PlaylistCreate)
    created = run(db(), playlists.create_playlist, _writer(), data)
    db().commit()
    return jsonify(created), 201


@bp.get("/api/playlists/<int:playlist_id>")
@require("readonly")
def get_playlist(playlist_id: int) -> Response:
    params = playlists.playlist_params(playlist_id)
    rows = db().execute(playlists.PLAYLIST_STMT, params).mappings().all()
    return jsonify(playlists.detail_json(_user(), rows))


@bp.put("/api/playlists/<int:playlist_id>")
@require("user")
def update_playlist(playlist_id: int) -> Response:
    data = body(playlists.PlaylistUpdate)
    updated = run(db(), playlists.update_playlist, _writer(), playlist_id, data)
    db().commit()
    return jsonify(updated)


@bp.delete("/api/playlists/<int:playlist_id>")
@require("user")
def delete_playlist(playlist_id: int) -> Response:
    result = run(db(), playlists.delete_playlist, _writer(), playlist_id)
    db().commit()
    return jsonify(result)


@bp.post("/api/playlists/<int:playlist_id>/videos")
@require("user")
def add_video(playlist_id: int) -> tuple[Response, int]:
    data = body(playlists.EntryAdd)
    result = run(db(), playlists.add_video, _writer(), playlist_id, data)
    db().commit()
    return jsonify(result), 201


@bp.delete("/api/playlists/<int:playlist_id>/videos/<int:entry_id>")
@require("user")
def remove_entry(playlist_id: int, entry_id: int) -> Response:
    result = run(db(), playlists.remove_entry, _writer(), playlist_id, entry_id)
    db().commit()
    return jsonify(result)


@bp.post("/api/playlists/<int:playlist_id>/videos/reorder")
@require("user")
def reorder(playlist_id: int) -> Response:
    data = body(playlists.Reorder)
    result = run(db(), playlists.reorder, _writer(), playlist_id, data)
    db().commit()
    return jsonify(result)
