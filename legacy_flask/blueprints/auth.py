"""Login, logout, session check, the current user and bearer tokens."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

from legacy_flask.auth import SESSION_TOKEN_KEY, current_user, require
from legacy_flask.db import db
from legacy_flask.extensions import legacy
from legacy_flask.http import json_data
from shared.auth.tokens import issue_token
from shared.db.plan import run
from shared.errors import AppError
from shared.serializers import user_json
from shared.services import auth as auth_service
from shared.services.auth import login_page_url, safe_next
from shared.services.users import LoginBody, me_json
from shared.validation import parse_body

bp = Blueprint("auth", __name__)


def _is_form() -> bool:
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


@bp.post("/auth/login")
@require("public")
def login() -> Any:
    form = _is_form()
    data: Any = request.form.to_dict() if form else json_data()
    if form and "next" not in data and request.args.get("next"):
        data["next"] = request.args["next"]
    try:
        creds = parse_body(LoginBody, data)
    except AppError as err:
        return _login_failed(err, form, data)
    user, error = auth_service.attempt_login(
        db(), legacy().settings, creds.username, creds.password, request.remote_addr
    )
    if error is not None or user is None:
        db().commit()  # the failure counts toward the lockout
        assert error is not None
        return _login_failed(error, form, data)
    token = run(
        db(),
        auth_service.new_session,
        legacy().settings,
        user.id,
        ip_address=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )
    db().commit()
    session.clear()
    session.permanent = True
    session[SESSION_TOKEN_KEY] = token
    if form:
        return redirect(safe_next(creds.next))
    return jsonify({"success": True, "user": user_json(user)})


def _login_failed(err: AppError, form: bool, data: Any) -> Any:
    if not form:
        raise err
    # Post/Redirect/Get: back to the form with the error and the name typed, so a
    # refresh shows the page again instead of sending the password again.
    return redirect(login_page_url(data.get("next"), err, data.get("username")), 303)


@bp.post("/auth/logout")
@require("user")
def logout() -> BaseResponse:
    token = session.get(SESSION_TOKEN_KEY)
    if isinstance(token, str):
        db().execute(auth_service.REVOKE_SESSION, auth_service.revoke_params(token))
        db().commit()
    session.clear()
    response: Response = jsonify({"success": True})
    return response


@bp.get("/auth/check")
@require("public")
def check() -> Response:
    user = current_user()
    return jsonify(
        {"authenticated": user is not None, "user": user_json(user) if user is not None else None}
    )


@bp.get("/api/auth/me")
@require("readonly")
def me() -> Response:
    user = current_user()
    assert user is not None
    return jsonify(me_json(user))


@bp.post("/api/auth/token")
@require("public")
def token() -> Response:
    creds = parse_body(LoginBody, json_data())
    user, error = auth_service.attempt_login(
        db(), legacy().settings, creds.username, creds.password, request.remote_addr
    )
    db().commit()
    if error is not None or user is None:
        assert error is not None
        raise error
    return jsonify(issue_token(legacy().settings, user.id, user.role))
