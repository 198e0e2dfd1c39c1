"""Login, logout, check, me and tokens on the legacy app."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.clock import utcnow
from shared.db.models import User, UserSession
from tests.conftest import PASSWORD, assert_error


def test_json_login_sets_session_and_row(client, make_user, db_session):
    user = make_user("user")
    response = client.post("/auth/login", json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is True and body["user"]["username"] == user.username
    assert "password_hash" not in body["user"]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    rows = db_session.query(UserSession).filter_by(user_id=user.id).all()
    assert len(rows) == 1 and rows[0].revoked_at is None
    assert client.get("/auth/check").get_json()["authenticated"] is True


def test_form_login_redirects_to_next(client, make_user):
    user = make_user("readonly")
    response = client.post(
        "/auth/login", data={"username": user.username, "password": PASSWORD, "next": "/videos"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/videos"


def test_form_login_refuses_offsite_next(client, make_user):
    user = make_user("readonly")
    response = client.post(
        "/auth/login",
        data={"username": user.username, "password": PASSWORD, "next": "//evil.example/"},
    )
    assert response.headers["Location"] == "/"


def test_bad_password_is_401(client, make_user):
    user = make_user()
    assert_error(
        client.post("/auth/login", json={"username": user.username, "password": "x"}),
        401,
        "AUTH_REQUIRED",
    )
    assert_error(
        client.post("/auth/login", json={"username": "nobody", "password": "x"}),
        401,
        "AUTH_REQUIRED",
    )


def test_malformed_and_mistyped_login(client):
    assert_error(
        client.post("/auth/login", data="{nope", content_type="application/json"),
        400,
        "BAD_REQUEST",
    )
    assert_error(
        client.post("/auth/login", json={"username": 5, "password": "x"}), 400, "VALIDATION_ERROR"
    )
    assert_error(client.post("/auth/login", json=["a"]), 400, "VALIDATION_ERROR")


def test_lockout_after_five_failures(client, make_user, db_session):
    user = make_user()
    for _ in range(5):
        assert (
            client.post(
                "/auth/login", json={"username": user.username, "password": "wrong"}
            ).status_code
            == 401
        )
    # Locked now: even the right password is refused, with 423.
    assert_error(
        client.post("/auth/login", json={"username": user.username, "password": PASSWORD}),
        423,
        "LOCKED",
    )
    db_session.expire_all()
    locked = db_session.get(User, user.id)
    assert locked.locked_until is not None
    # Once the 15 minutes have passed, the right password works again.
    locked.locked_until = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert (
        client.post(
            "/auth/login", json={"username": user.username, "password": PASSWORD}
        ).status_code
        == 200
    )


def test_token_failures_count_toward_lockout(client, make_user):
    user = make_user()
    for _ in range(5):
        client.post("/api/auth/token", json={"username": user.username, "password": "wrong"})
    assert_error(
        client.post("/auth/login", json={"username": user.username, "password": PASSWORD}),
        423,
        "LOCKED",
    )


def test_logout_revokes_the_row(client, login, db_session):
    user = login("user")
    response = client.post("/auth/logout")
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert "session=;" in response.headers["Set-Cookie"]
    row = db_session.query(UserSession).filter_by(user_id=user.id).one()
    assert row.revoked_at is not None
    assert client.get("/auth/check").get_json() == {"authenticated": False, "user": None}


def test_revoked_row_rejects_a_replayed_cookie(client, login, db_session):
    login("user")
    cookie = client.get_cookie("session")
    assert cookie is not None
    db_session.query(UserSession).update({"revoked_at": utcnow()})
    db_session.commit()
    assert_error(client.get("/api/auth/me"), 401, "AUTH_REQUIRED")


def test_logout_needs_user_role(client, login):
    assert_error(client.post("/auth/logout"), 401, "AUTH_REQUIRED")
    login("readonly")
    assert_error(client.post("/auth/logout"), 403, "FORBIDDEN")


def test_check_anonymous(client):
    assert client.get("/auth/check").get_json() == {"authenticated": False, "user": None}


def test_me_with_cookie_and_with_bearer(client, login, bearer):
    assert_error(client.get("/api/auth/me"), 401, "AUTH_REQUIRED")
    user = login("readonly")
    body = client.get("/api/auth/me").get_json()
    assert body["id"] == user.id and body["role"] == "readonly" and body["preferences"] == {}
    other = client.application.test_client()
    me = other.get("/api/auth/me", headers=bearer("manager")).get_json()
    assert me["role"] == "manager"


def test_token_issue_and_use(client, make_user):
    user = make_user("admin")
    response = client.post(
        "/api/auth/token", json={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/auth/me", headers=headers).get_json()["username"] == user.username


def test_garbage_bearer_is_401(client):
    assert_error(
        client.get("/api/auth/me", headers={"Authorization": "Bearer nope"}), 401, "AUTH_REQUIRED"
    )


def test_token_bad_input(client):
    assert_error(
        client.post("/api/auth/token", data="x", content_type="application/json"),
        400,
        "BAD_REQUEST",
    )
    assert_error(client.post("/api/auth/token", json={"username": "a"}), 400, "VALIDATION_ERROR")
    assert_error(
        client.post("/api/auth/token", json={"username": "a", "password": "b"}),
        401,
        "AUTH_REQUIRED",
    )


@pytest.mark.flask_side  # builds a second Flask app on the old key
def test_rotated_secret_key_still_reads_old_cookies(settings, client, login):
    from legacy_flask import create_app

    login("user")
    cookie = client.get_cookie("session")
    rotated = settings.model_copy(
        update={
            "secret_key": type(settings.secret_key)("new-key"),
            "secret_key_fallbacks": [settings.secret_key],
        }
    )
    app2 = create_app(rotated)
    try:
        other = app2.test_client()
        other.set_cookie("session", cookie.value)
        assert other.get("/api/auth/me").status_code == 200
    finally:
        app2.extensions["figway"].engine.dispose()
