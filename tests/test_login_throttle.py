"""Login defences on both login routes: the per-address throttle, the lock's log line, the
same hashing work for unknown and known names, and a lock that a login raced past."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import update

from shared.auth import passwords
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import LoginThrottle, User
from shared.errors import Locked
from shared.services import auth as auth_service
from tests.conftest import PASSWORD, assert_error

if TYPE_CHECKING:
    from flask.testing import FlaskClient
    from werkzeug.test import TestResponse

ALLOWANCE = 3  # failures per address per window, small so the tests reach it quickly
ELSEWHERE = {"REMOTE_ADDR": "10.9.8.7"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"login_throttle_failures": ALLOWANCE})


def _wrong(client: FlaskClient, route: str, username: str, **kwargs: Any) -> TestResponse:
    return client.post(route, json={"username": username, "password": "wrong"}, **kwargs)


@pytest.mark.parametrize("route", ["/auth/login", "/api/auth/token"])
def test_an_address_past_its_allowance_gets_429_and_locks_no_one(
    client, make_user, db_session, route
):
    victims = [make_user() for _ in range(ALLOWANCE)]
    for victim in victims:
        assert_error(_wrong(client, route, victim.username), 401, "AUTH_REQUIRED")
    admin = make_user("admin")
    refused = _wrong(client, route, admin.username)
    assert_error(refused, 429, "RATE_LIMITED")
    assert refused.headers["Retry-After"] == "900"  # the window: at most that long
    # Unknown names count too: guessing names is guessing.
    assert_error(_wrong(client, route, "nobody"), 429, "RATE_LIMITED")
    # Refused before any counting: the admin's account holds no failure from this address.
    db_session.expire_all()
    assert db_session.get(User, admin.id).failed_login_count == 0
    assert [db_session.get(User, v.id).failed_login_count for v in victims] == [1] * ALLOWANCE
    right = {"username": admin.username, "password": PASSWORD}
    assert_error(client.post(route, json=right), 429, "RATE_LIMITED")
    # Another address is not held back by this one.
    assert client.post(route, json=right, environ_base=ELSEWHERE).status_code == 200


def test_the_throttle_forgets_an_old_window(client, make_user, db_session):
    user = make_user()
    for _ in range(ALLOWANCE):
        _wrong(client, "/auth/login", "nobody")
    assert_error(_wrong(client, "/auth/login", user.username), 429, "RATE_LIMITED")
    row = db_session.get(LoginThrottle, "127.0.0.1")
    row.window_started_at = utcnow() - timedelta(seconds=901)
    db_session.commit()
    assert_error(_wrong(client, "/auth/login", user.username), 401, "AUTH_REQUIRED")
    db_session.expire_all()
    assert db_session.get(LoginThrottle, "127.0.0.1").failures == 1  # a new window


def test_a_form_login_past_the_allowance_says_so_on_the_form(client, make_user):
    for _ in range(ALLOWANCE):
        _wrong(client, "/auth/login", "nobody")
    response = client.post("/auth/login", data={"username": "nobody", "password": "x"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=%2F&error=RATE_LIMITED&username=nobody"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Too many failed logins from your address" in html


def test_each_lock_is_logged_once_with_user_and_address(client, make_user, caplog):
    user = make_user()
    other = {"REMOTE_ADDR": "10.1.2.3"}
    with caplog.at_level(logging.WARNING, logger="figway.auth"):
        for attempt in range(5):
            # Two addresses, each within its allowance: the account's lock still comes.
            _wrong(client, "/auth/login", user.username, environ_base=other if attempt % 2 else {})
        assert_error(
            _wrong(client, "/auth/login", user.username, environ_base=other), 423, "LOCKED"
        )
    locks = [r.getMessage() for r in caplog.records if r.name == "figway.auth"]
    assert locks == [
        f"login: account {user.username!r} locked for 900 s after 5 failed logins; "
        "the last from 127.0.0.1"
    ]


@pytest.mark.parametrize("route", ["/auth/login", "/api/auth/token"])
def test_unknown_and_known_names_cost_one_hash_verification_each(
    client, make_user, monkeypatch, route
):
    """An unknown name is hashed too (against a dummy): the answer's time does not tell
    whether the name exists. Counted at the one verification function both sides use."""
    calls: list[str] = []
    real = passwords.verify_password

    def counting(password: str, stored: str) -> bool:
        calls.append(stored)
        return real(password, stored)

    monkeypatch.setattr(auth_service, "verify_password", counting)
    user = make_user()
    assert_error(_wrong(client, route, "nobody"), 401, "AUTH_REQUIRED")
    assert len(calls) == 1
    # At the configured cost, as a new user's hash is.
    assert calls[0].startswith(f"scrypt:{2**4}:8:1$")
    assert_error(_wrong(client, route, user.username), 401, "AUTH_REQUIRED")
    assert len(calls) == 2 and calls[1] == user.password_hash


def test_a_right_password_that_raced_past_a_lock_finds_it(
    flask_app, settings, make_user, db_session, monkeypatch
):
    """Another request's fifth failure locks the account while this one verifies the right
    password: the login must not open it."""
    user = make_user()
    real = passwords.verify_password

    def locked_meanwhile(password: str, stored: str) -> bool:
        db_session.execute(
            update(User)
            .where(User.id == user.id)
            .values(locked_until=utcnow() + timedelta(minutes=15))
        )
        db_session.commit()
        return real(password, stored)

    monkeypatch.setattr(auth_service, "verify_password", locked_meanwhile)
    with flask_app.extensions["figway"].sessions() as session:
        logged_in, error = auth_service.attempt_login(
            session, settings, user.username, PASSWORD, "127.0.0.1"
        )
        session.commit()
    assert logged_in is None and isinstance(error, Locked)
    db_session.expire_all()
    assert db_session.get(User, user.id).last_login_at is None


@pytest.mark.parametrize("route", ["/auth/login", "/api/auth/token"])
def test_passwords_are_never_hashed_on_an_event_loop(client, make_user, monkeypatch, route):
    """scrypt is ~100 ms of CPU: on the FastAPI side's event loop it would stall every
    request the process serves, so the twin runs it in a thread."""
    on_loop: list[bool] = []
    real = passwords.verify_password

    def watching(password: str, stored: str) -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            on_loop.append(False)
        else:
            on_loop.append(True)
        return real(password, stored)

    monkeypatch.setattr(auth_service, "verify_password", watching)
    user = make_user()
    _wrong(client, route, "nobody")
    _wrong(client, route, user.username)
    assert (
        client.post(route, json={"username": user.username, "password": PASSWORD}).status_code
        == 200
    )
    assert on_loop == [False, False, False]
