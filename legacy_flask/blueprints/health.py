"""Health, database reachability and version."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from legacy_flask.auth import require
from legacy_flask.db import db
from shared.services import health

bp = Blueprint("health", __name__)


@bp.get("/api/health")
@require("public")
def health_check() -> Response:
    return jsonify(health.health_json(db()))


@bp.get("/api/health/database")
@require("manager")
def database() -> Response:
    return jsonify(health.database_json(db()))


@bp.get("/api/version")
@require("public")
def version() -> Response:
    return jsonify(health.version_json())
