"""Health, database reachability and version."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from legacy_flask.auth import require
from legacy_flask.db import db
from shared.errors import Unavailable
from shared.services import health

bp = Blueprint("health", __name__)
log = logging.getLogger("figway.legacy")


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


@bp.errorhandler(SQLAlchemyError)
def _database_down(exc: SQLAlchemyError) -> Response:
    # Resolving the caller of /api/health/database reads the users table; with the
    # database down that must still answer 503, through the app's one AppError mapping.
    log.warning("database unavailable during a health check: %s", type(exc).__name__)
    response: Response = current_app.make_response(
        current_app.handle_user_exception(Unavailable(health.DATABASE_DOWN))
    )
    return response
