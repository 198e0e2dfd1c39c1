"""Routes that consult the metadata provider over HTTP, blocking the request thread.

The database steps around each provider call are the plans of shared.services.metadata,
which the FastAPI twins await on their connection; the transaction ends before each wait.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from legacy_flask.auth import require
from legacy_flask.db import db
from legacy_flask.extensions import legacy
from legacy_flask.http import body
from shared import tracing
from shared.clients.metadata import MetadataClient, ProviderVideo
from shared.db.plan import run
from shared.errors import NotFound
from shared.services import metadata as service

bp = Blueprint("metadata", __name__)


def metadata_client() -> MetadataClient:
    """The app's one client, made on first use: its connection pool outlives requests."""
    parts = legacy().parts
    client = parts.get("metadata")
    if isinstance(client, MetadataClient):
        return client
    settings = legacy().settings
    key = settings.metadata_api_key
    fresh = MetadataClient(
        settings.metadata_base_url,
        settings.metadata_timeout_s,
        api_key=key.get_secret_value() if key is not None else None,
        tracer=tracing.tracer_for(settings),
    )
    kept = parts.setdefault("metadata", fresh)
    if kept is not fresh:  # another thread made one first
        fresh.close()
    assert isinstance(kept, MetadataClient)
    return kept


def _release_db() -> None:
    # Give the connection back before waiting on the provider: threads parked on a slow
    # provider must not hold the database pool (and its locks) for seconds.
    db().rollback()


@bp.post("/api/artists/import-from-imvdb")
@require("manager")
def import_from_imvdb() -> tuple[Response, int]:
    data = body(service.ImportArtist)
    _release_db()
    client = metadata_client()
    imvdb_id = data.imvdb_id
    if imvdb_id is None:
        assert data.name is not None  # the body needs one of the two
        imvdb_id = service.pick_match(client.search_artists(data.name), data.name).imvdb_id
    result = run(db(), service.import_artist, client.artist(imvdb_id))
    db().commit()
    return jsonify(result), 201


@bp.post("/api/artists/<int:artist_id>/videos/discover")
@require("manager")
def discover_videos(artist_id: int) -> Response:
    imvdb_id = run(db(), service.discovery_target, artist_id)
    _release_db()
    client = metadata_client()
    offered = client.artist(imvdb_id).videos
    todo = run(db(), service.new_videos, artist_id, offered)
    _release_db()
    complete = {v.imvdb_id: _with_source(client, v) for v in todo if v.source_url is None}
    videos = [complete.get(v.imvdb_id, v) for v in offered]
    result = run(db(), service.add_discovered_videos, artist_id, videos)
    db().commit()
    return jsonify(result)


def _with_source(client: MetadataClient, summary: ProviderVideo) -> ProviderVideo:
    """The full record, for its source URL; the summary if the provider lost the video since."""
    try:
        return client.video(summary.imvdb_id)
    except NotFound:
        return summary


@bp.post("/api/videos/<int:video_id>/refresh-metadata")
@require("manager")
def refresh_metadata(video_id: int) -> Response:
    imvdb_id = run(db(), service.refresh_target, video_id)
    _release_db()
    meta = metadata_client().video(imvdb_id)
    result = run(db(), service.apply_video_metadata, video_id, meta)
    db().commit()
    return jsonify(result)


@bp.get("/api/metadata/search")
@require("user")
def search() -> Response:
    query = service.search_query(request.args.get("q"))
    _release_db()
    results = metadata_client().search_artists(query)
    return jsonify(service.search_json(query, results))
