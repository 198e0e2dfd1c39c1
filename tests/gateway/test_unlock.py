"""Unlocking an account locked by failed logins: POST /api/users/<id>/unlock (a capability
of the FastAPI side only, reached through the gateway) and `figway users unlock`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select

from shared.auth.passwords import hash_password
from shared.clock import utcnow
from shared.db.models import User
from tests.conftest import PASSWORD
from tests.servers import base_env, figway


def _lock(db_session, user: User) -> None:
    user.locked_until = utcnow() + timedelta(minutes=15)
    user.failed_login_count = 3
    db_session.commit()


def test_an_admin_unlocks_an_account_and_its_owner_logs_in_again(gw, bearer, make_user, db_session):
    user = make_user()
    _lock(db_session, user)
    right = {"username": user.username, "password": PASSWORD}
    assert gw.post("/auth/login", json=right).status_code == 423
    response = gw.post(f"/api/users/{user.id}/unlock", headers=bearer("admin"))
    assert response.status_code == 200, response.text
    assert response.headers["x-served-by"] == "fastapi"  # not in the manifest: new side only
    assert response.json()["username"] == user.username and "password_hash" not in response.json()
    db_session.expire_all()
    unlocked = db_session.get(User, user.id)
    assert (unlocked.locked_until, unlocked.failed_login_count) == (None, 0)
    assert gw.post("/auth/login", json=right).status_code == 200


def test_only_an_admin_may_unlock_and_only_a_user_that_exists(gw, bearer, make_user, db_session):
    user = make_user()
    _lock(db_session, user)
    path = f"/api/users/{user.id}/unlock"
    for headers, status, code in (
        ({}, 401, "AUTH_REQUIRED"),
        (bearer("manager"), 403, "FORBIDDEN"),
    ):
        response = gw.post(path, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code)
        assert set(response.json()) == {"error", "code"}
    missing = gw.post("/api/users/9999/unlock", headers=bearer("admin"))
    assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")
    db_session.expire_all()
    assert db_session.get(User, user.id).locked_until is not None


def test_unlock_is_documented(gw):
    operation = gw.get("/openapi.json").json()["paths"]["/api/users/{user_id}/unlock"]["post"]
    assert "Unlock" in operation["summary"] and "404" in operation["responses"]


def test_the_cli_unlocks_by_username(tmp_path: Path):
    env = base_env(tmp_path)
    assert figway("db", "upgrade", env=env).returncode == 0
    engine = create_engine(env["DATABASE_URL"])
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(User).values(
                    username="admin",
                    role="admin",
                    password_hash=hash_password(PASSWORD, n=16),
                    preferences={},
                    failed_login_count=2,
                    locked_until=utcnow() + timedelta(minutes=15),
                    created_at=utcnow(),
                )
            )
        done = figway("users", "unlock", "admin", env=env)
        assert (done.returncode, done.stdout) == (0, "admin: unlocked\n"), done.stderr
        with engine.connect() as conn:
            row = conn.execute(
                select(User.failed_login_count, User.locked_until).where(User.username == "admin")
            ).one()
        assert tuple(row) == (0, None)
        missing = figway("users", "unlock", "nobody", env=env)
        assert missing.returncode == 1 and "no user named 'nobody'" in missing.stderr
    finally:
        engine.dispose()
