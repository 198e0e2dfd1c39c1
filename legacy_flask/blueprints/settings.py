"""Settings: list (masked), read, set, delete one, and set many in one transaction."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from legacy_flask.auth import current_user, require
from legacy_flask.db import db
from legacy_flask.http import body
from shared.auth.roles import has_role
from shared.db.plan import run
from shared.services import settings as settings_service
from shared.services.settings import SettingPut, SettingsBulk

bp = Blueprint("settings", __name__)


@bp.get("/api/settings")
@require("admin")
def list_settings() -> Response:
    return jsonify(settings_service.list_settings(db()))


# A static rule, so Flask prefers it to /api/settings/<key>: PUT here never sets key "bulk".
@bp.put("/api/settings/bulk")
@require("admin")
def bulk_update() -> Response:
    data = body(SettingsBulk)
    result = run(db(), settings_service.bulk_update, data)
    db().commit()
    return jsonify(result)


@bp.get("/api/settings/<key>")
@require("manager")
def get_setting(key: str) -> Response:
    user = current_user()
    assert user is not None  # @require guarantees it
    reveal = has_role(user.role, "admin")
    return jsonify(settings_service.get_setting(db(), key, reveal_secrets=reveal))


@bp.put("/api/settings/<key>")
@require("admin")
def put_setting(key: str) -> tuple[Response, int]:
    settings_service.check_key(key)
    data = body(SettingPut)
    setting, created = run(db(), settings_service.put_setting, key, data)
    db().commit()
    return jsonify(setting), 201 if created else 200


@bp.delete("/api/settings/<key>")
@require("admin")
def delete_setting(key: str) -> Response:
    result = run(db(), settings_service.delete_setting, key)
    db().commit()
    return jsonify(result)
