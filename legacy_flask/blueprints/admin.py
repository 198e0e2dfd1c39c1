"""Admin: system figures (versions from system commands, disk, process) and the app's log."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from legacy_flask.auth import require
from legacy_flask.extensions import legacy
from shared.services import system

bp = Blueprint("admin", __name__)


@bp.get("/api/admin/system")
@require("admin")
def system_info() -> Response:
    # Blocks for the version commands (up to 5 s each): the legacy way this route works.
    return jsonify(system.system_json(legacy().settings))


@bp.get("/api/admin/logs")
@require("admin")
def logs() -> Response:
    lines = system.log_line_count(request.args)
    return jsonify(system.log_json(legacy().settings, lines))
