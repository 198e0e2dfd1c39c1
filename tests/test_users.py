"""Users on the legacy app: list, create, roles, delete, the caller's preferences."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db.models import User, UserSession
from shared.db.plan import Plan, run
from shared.errors import Conflict
from shared.services import users
from shared.services.users import MAX_PREFERENCES_BYTES
from tests.conftest import PASSWORD, assert_error

NEW_USER = {"username": "newbie", "password": "long-enough-pw", "email": "newbie@example.org"}


def user_count(db_session: Session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(User)) or 0


def lookup(db_session: Session, user_id: int) -> User | None:
    db_session.expire_all()
    return db_session.get(User, user_id)


def stored(db_session: Session, user_id: int) -> User:
    user = lookup(db_session, user_id)
    assert user is not None, f"user {user_id} is gone"
    return user


# -- GET /api/users ---------------------------------------------------------------------


def test_list_users_by_id_without_secrets(client, bearer, make_user):
    headers = bearer("admin")
    others = [make_user("readonly"), make_user("manager")]
    response = client.get("/api/users", headers=headers)
    assert response.status_code == 200
    users = response.get_json()["users"]
    assert [u["id"] for u in users] == sorted(u["id"] for u in users)
    assert {o.id for o in others} <= {u["id"] for u in users}
    assert set(users[0]) == {"id", "username", "email", "role", "created_at", "last_login_at"}


def test_list_users_needs_admin(client, bearer):
    assert_error(client.get("/api/users"), 401, "AUTH_REQUIRED")
    assert_error(client.get("/api/users", headers=bearer("manager")), 403, "FORBIDDEN")


# -- POST /api/users --------------------------------------------------------------------


def test_create_user(client, bearer, db_session):
    response = client.post(
        "/api/users", json={**NEW_USER, "role": "manager"}, headers=bearer("admin")
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["username"] == "newbie" and body["role"] == "manager"
    assert body["email"] == "newbie@example.org" and body["last_login_at"] is None
    assert body["created_at"].endswith("Z") and "password" not in str(body)
    row = stored(db_session, body["id"])
    assert row.password_hash != NEW_USER["password"]
    # The stored hash is a real one: the new user can log in.
    login = client.application.test_client().post(
        "/auth/login", json={"username": "newbie", "password": NEW_USER["password"]}
    )
    assert login.status_code == 200


def test_create_user_defaults_to_role_user(client, bearer):
    body = client.post(
        "/api/users",
        json={"username": "plain", "password": "long-enough-pw"},
        headers=bearer("admin"),
    ).get_json()
    assert body["role"] == "user" and body["email"] is None


def test_create_user_needs_admin(client, bearer, db_session):
    before = user_count(db_session) + 1  # bearer() below adds one
    assert_error(client.post("/api/users", json=NEW_USER), 401, "AUTH_REQUIRED")
    assert_error(
        client.post("/api/users", json=NEW_USER, headers=bearer("manager")), 403, "FORBIDDEN"
    )
    assert user_count(db_session) == before


@pytest.mark.parametrize(
    "payload",
    [
        {**NEW_USER, "username": 5},
        {**NEW_USER, "username": "ab"},
        {**NEW_USER, "username": "has space"},
        {**NEW_USER, "username": "x" * 81},
        {**NEW_USER, "password": "short"},
        {**NEW_USER, "password": None},
        {**NEW_USER, "email": "not-an-email"},
        {**NEW_USER, "email": 7},
        {**NEW_USER, "role": "root"},
        {"password": "long-enough-pw"},
        ["newbie"],
    ],
)
def test_create_user_rejects_bad_fields(client, bearer, db_session, payload):
    headers = bearer("admin")
    before = user_count(db_session)
    assert_error(client.post("/api/users", json=payload, headers=headers), 400, "VALIDATION_ERROR")
    assert user_count(db_session) == before


def test_create_user_rejects_malformed_json(client, bearer, db_session):
    headers = bearer("admin")
    before = user_count(db_session)
    for raw in ("{nope", "", '{"username": NaN}'):
        response = client.post(
            "/api/users", data=raw, content_type="application/json", headers=headers
        )
        assert_error(response, 400, "BAD_REQUEST")
    assert user_count(db_session) == before


def test_create_user_duplicates_are_409(client, bearer, make_user, db_session):
    headers = bearer("admin")
    make_user("user", username="taken", email="taken@example.org")
    before = user_count(db_session)
    assert_error(
        client.post("/api/users", json={**NEW_USER, "username": "taken"}, headers=headers),
        409,
        "CONFLICT",
    )
    assert_error(
        client.post("/api/users", json={**NEW_USER, "email": "taken@example.org"}, headers=headers),
        409,
        "CONFLICT",
    )
    assert user_count(db_session) == before


def test_a_duplicate_past_the_checks_is_a_conflict_and_rolls_back(db_session):
    """The race between the duplicate check and the insert: the unique index decides, and
    the plan answers the 409 (a writer slipped in between, in this test on the same
    transaction so that its timing is certain)."""
    before = user_count(db_session)
    data = users.UserCreate(username="racer", password="long-enough-pw")

    def raced() -> Plan[dict[str, Any]]:
        steps = users.create_user(data, "x")
        checked = yield next(steps)  # nobody has the name yet
        yield insert(users.USERS).values(
            username="racer", role="user", password_hash="x", preferences={}
        )
        step = steps.send(checked)
        try:
            while True:
                try:
                    result = yield step
                except IntegrityError as exc:
                    step = steps.throw(exc)
                else:
                    step = steps.send(result)
        except StopIteration as done:
            answer: dict[str, Any] = done.value
            return answer

    with pytest.raises(Conflict, match="already taken"):
        run(db_session, raced)
    db_session.rollback()  # as the request's teardown does: nothing of it is left
    assert user_count(db_session) == before


# -- PUT /api/users/<id>/role -----------------------------------------------------------


def test_set_role(client, bearer, make_user, db_session):
    target = make_user("readonly")
    response = client.put(
        f"/api/users/{target.id}/role", json={"role": "manager"}, headers=bearer("admin")
    )
    assert response.status_code == 200
    assert response.get_json()["role"] == "manager" and response.get_json()["id"] == target.id
    assert stored(db_session, target.id).role == "manager"


def test_set_role_rejections_change_nothing(client, bearer, make_user, db_session):
    target = make_user("user")
    url = f"/api/users/{target.id}/role"
    assert_error(client.put(url, json={"role": "admin"}), 401, "AUTH_REQUIRED")
    assert_error(
        client.put(url, json={"role": "admin"}, headers=bearer("manager")), 403, "FORBIDDEN"
    )
    headers = bearer("admin")
    for payload in ({"role": "root"}, {"role": 3}, {}, ["admin"]):
        assert_error(client.put(url, json=payload, headers=headers), 400, "VALIDATION_ERROR")
    assert_error(
        client.put(url, data="{", content_type="application/json", headers=headers),
        400,
        "BAD_REQUEST",
    )
    assert stored(db_session, target.id).role == "user"


def test_set_role_unknown_user(client, bearer):
    assert_error(
        client.put("/api/users/999999/role", json={"role": "user"}, headers=bearer("admin")),
        404,
        "NOT_FOUND",
    )


def test_last_admin_cannot_be_demoted(client, bearer, make_user, db_session):
    headers = bearer("admin")
    admin_id = db_session.scalar(select(User.id).where(User.role == "admin"))
    assert_error(
        client.put(f"/api/users/{admin_id}/role", json={"role": "manager"}, headers=headers),
        409,
        "CONFLICT",
    )
    assert stored(db_session, admin_id).role == "admin"
    # Keeping the role is no demotion.
    assert (
        client.put(
            f"/api/users/{admin_id}/role", json={"role": "admin"}, headers=headers
        ).status_code
        == 200
    )
    # With a second admin the first may step down.
    make_user("admin")
    response = client.put(f"/api/users/{admin_id}/role", json={"role": "manager"}, headers=headers)
    assert response.status_code == 200 and stored(db_session, admin_id).role == "manager"


# -- DELETE /api/users/<id> -------------------------------------------------------------


def test_delete_user_and_their_sessions(client, bearer, make_user, db_session):
    target = make_user("user")
    other = client.application.test_client()
    assert (
        other.post(
            "/auth/login", json={"username": target.username, "password": PASSWORD}
        ).status_code
        == 200
    )
    target_id = target.id
    response = client.delete(f"/api/users/{target_id}", headers=bearer("admin"))
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert lookup(db_session, target_id) is None
    sessions = select(func.count()).select_from(UserSession).where(UserSession.user_id == target_id)
    assert db_session.scalar(sessions) == 0
    assert_error(other.get("/api/auth/me"), 401, "AUTH_REQUIRED")


def test_delete_user_rejections_change_nothing(client, bearer, make_user, db_session):
    target = make_user("user")
    url = f"/api/users/{target.id}"
    assert_error(client.delete(url), 401, "AUTH_REQUIRED")
    assert_error(client.delete(url, headers=bearer("manager")), 403, "FORBIDDEN")
    assert_error(client.delete("/api/users/999999", headers=bearer("admin")), 404, "NOT_FOUND")
    assert lookup(db_session, target.id) is not None


def test_last_admin_cannot_be_deleted(client, bearer, make_user, db_session):
    headers = bearer("admin")
    admin_id = db_session.scalar(select(User.id).where(User.role == "admin"))
    assert_error(client.delete(f"/api/users/{admin_id}", headers=headers), 409, "CONFLICT")
    assert lookup(db_session, admin_id) is not None
    second_id = make_user("admin").id
    assert client.delete(f"/api/users/{second_id}", headers=headers).status_code == 200
    assert lookup(db_session, second_id) is None


# -- PUT /api/users/me/preferences ------------------------------------------------------


def test_preferences_merge(client, login, make_user, db_session):
    bystander = make_user("user")
    user = login("readonly")
    first = client.put("/api/users/me/preferences", json={"theme": "dark", "volume": 3})
    assert first.status_code == 200
    assert first.get_json() == {"preferences": {"theme": "dark", "volume": 3}}
    second = client.put(
        "/api/users/me/preferences", json={"theme": "light", "columns": ["title", "year"]}
    )
    assert second.get_json() == {
        "preferences": {"theme": "light", "volume": 3, "columns": ["title", "year"]}
    }
    assert client.get("/api/auth/me").get_json()["preferences"]["columns"] == ["title", "year"]
    assert stored(db_session, user.id).preferences["volume"] == 3
    assert stored(db_session, bystander.id).preferences == {}


def test_preferences_with_bearer(client, bearer):
    response = client.put("/api/users/me/preferences", json={"a": None}, headers=bearer("admin"))
    assert response.status_code == 200 and response.get_json() == {"preferences": {"a": None}}


def test_preferences_need_a_login(client):
    assert_error(
        client.put("/api/users/me/preferences", json={"theme": "dark"}), 401, "AUTH_REQUIRED"
    )


def test_preferences_is_its_own_route(client, login):
    login("readonly")
    assert_error(client.get("/api/users/me/preferences"), 405, "METHOD_NOT_ALLOWED")
    assert_error(client.put("/api/users/me/role", json={"role": "admin"}), 404, "NOT_FOUND")


# A lone surrogate anywhere (a value, a key, deep inside): escaped, or as raw bytes.
LONE_SURROGATES = (
    b'{"theme": "\\ud800"}',
    b'{"\\udfff": 1}',
    b'{"a": [1, {"b": "x\\udc00y"}]}',
    b'{"a": "\\ude00\\ud83d"}',  # a pair the wrong way round is two lone ones
    b'{"a": "\xed\xa0\x80"}',
)


def test_preferences_refuse_lone_surrogates(client, login, db_session):
    user = login("readonly")
    for raw in LONE_SURROGATES:
        assert_error(
            client.put("/api/users/me/preferences", data=raw, content_type="application/json"),
            400,
            "BAD_REQUEST",
        )
    assert stored(db_session, user.id).preferences == {}
    assert client.get("/api/auth/me").status_code == 200
    # A proper pair is one character (an emoji), stored and read back.
    pair = client.put(
        "/api/users/me/preferences",
        data=b'{"mood": "\\ud83d\\ude00"}',
        content_type="application/json",
    )
    assert pair.status_code == 200 and pair.get_json() == {"preferences": {"mood": "\U0001f600"}}
    assert client.get("/api/auth/me").get_json()["preferences"] == {"mood": "\U0001f600"}


def test_preferences_reject_bad_bodies(client, login, db_session):
    user = login("readonly")
    client.put("/api/users/me/preferences", json={"keep": 1})
    for payload in (["a"], "text", 5):
        assert_error(client.put("/api/users/me/preferences", json=payload), 400, "VALIDATION_ERROR")
    assert_error(
        client.put("/api/users/me/preferences", data="null", content_type="application/json"),
        400,
        "VALIDATION_ERROR",
    )
    for raw in ("{", '{"x": Infinity}', '{"x": 1e999}', "[" * 100_000):
        assert_error(
            client.put("/api/users/me/preferences", data=raw, content_type="application/json"),
            400,
            "BAD_REQUEST",
        )
    too_big = {"blob": "x" * MAX_PREFERENCES_BYTES}
    assert_error(client.put("/api/users/me/preferences", json=too_big), 400, "VALIDATION_ERROR")
    assert stored(db_session, user.id).preferences == {"keep": 1}
