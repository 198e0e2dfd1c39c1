"""Users: list, create, change a role, delete (never the last admin), own preferences."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from legacy_flask.auth import current_user, require
from legacy_flask.db import db
from legacy_flask.extensions import legacy
from legacy_flask.http import body, json_data
from shared.db.plan import run
from shared.services import users as users_service
from shared.services.users import RoleUpdate, UserCreate

bp = Blueprint("users", __name__)


@bp.get("/api/users")
@require("admin")
def list_users() -> Response:
    rows = db().execute(users_service.USERS_STMT).mappings().all()
    return jsonify(users_service.list_json(rows))


@bp.post("/api/users")
@require("admin")
def create_user() -> tuple[Response, int]:
    data = body(UserCreate)
    password_hash = users_service.password_hash(legacy().settings, data)
    created = run(db(), users_service.create_user, data, password_hash)
    db().commit()
    return jsonify(created), 201


@bp.put("/api/users/<int:user_id>/role")
@require("admin")
def set_role(user_id: int) -> Response:
    data = body(RoleUpdate)
    updated = run(db(), users_service.set_role, user_id, data)
    db().commit()
    return jsonify(updated)


@bp.delete("/api/users/<int:user_id>")
@require("admin")
def delete_user(user_id: int) -> Response:
    result = run(db(), users_service.delete_user, user_id)
    db().commit()
    return jsonify(result)


# A static rule: Flask matches it before the <int:user_id> rules, and "me" is no int anyway.
@bp.put("/api/users/me/preferences")
@require("readonly")
def update_preferences() -> Response:
    user = current_user()
    assert user is not None  # @require guarantees it
    merged = run(db(), users_service.merge_preferences, user, json_data())
    db().commit()
    return jsonify(merged)
