"""Login, logout, tokens and health on both sides: the twins execute the very statements
the legacy side does (the plans and statements of shared.services.auth and health), and
they check out their connection where the legacy side's session does, so that a database
away changes no answer that does not need it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

import shared
from fastapi_app import create_fastapi_app
from legacy_flask import create_app
from shared.config import Settings
from tests.conftest import PASSWORD, UserFactory
from tests.test_health import UNREACHABLE

Statements = list[str]
_NAMED = re.compile(r"%\(\w+\)s")


@pytest.fixture
def legacy(settings: Settings) -> Iterator[Flask]:
    """The Flask app alone (never behind the gateway): one side of each comparison."""
    application = create_app(settings)
    yield application
    application.extensions["figway"].close()


@pytest.fixture
def twin(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_fastapi_app(settings), follow_redirects=False) as client:
        yield client


def _recording(engine: Engine) -> tuple[Statements, Callable[[], None]]:
    """The SQL `engine` sends from now on, and how to stop recording it."""
    sent: Statements = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement == "BEGIN":
            # The twins' engine is in autocommit and begins a write's transaction in so
            # many words (shared.db.dialects); the legacy driver begins it implicitly.
            return
        # The MariaDB drivers differ in placeholders only (%(name)s and %s).
        sent.append(_NAMED.sub("%s", " ".join(statement.split())))

    event.listen(engine, "before_cursor_execute", record)
    return sent, lambda: event.remove(engine, "before_cursor_execute", record)


def _legacy_engine(app: Flask) -> Engine:
    engine: Engine = app.extensions["figway"].engine
    return engine


def _twin_engine(client: TestClient) -> Engine:
    engine: Engine = client.app.state.figway.engine.sync_engine  # type: ignore[attr-defined]
    return engine


def _both(
    legacy: Flask, twin: TestClient, request: Callable[[Any], Any]
) -> tuple[Statements, Statements]:
    """What each side sends to the database for `request(client)`."""
    sides: list[Statements] = []
    for engine, client in (
        (_legacy_engine(legacy), legacy.test_client()),
        (_twin_engine(twin), twin),
    ):
        sent, stop = _recording(engine)
        try:
            request(client)
        finally:
            stop()
        sides.append(sent)
    return sides[0], sides[1]


def _error(response: Any, status: int, code: str) -> None:
    """assert_error, for a response of either test client."""
    body = response.get_json() if hasattr(response, "get_json") else response.json()
    assert (response.status_code, body["code"]) == (status, code), body
    assert set(body) == {"error", "code"}, body


def _post(route: str, username: str, password: str) -> Callable[[Any], Any]:
    return lambda client: client.post(route, json={"username": username, "password": password})


@pytest.mark.parametrize("route", ["/auth/login", "/api/auth/token"])
def test_a_login_sends_the_same_statements_on_both_sides(
    legacy, twin, make_user: UserFactory, route
):
    user = make_user()
    cases = [
        ("right", _post(route, user.username, PASSWORD)),
        ("wrong", _post(route, user.username, "wrong")),
        ("unknown", _post(route, "nobody", "wrong")),
    ]
    for name, request in cases:
        flask_sent, twin_sent = _both(legacy, twin, request)
        assert flask_sent, name
        assert twin_sent == flask_sent, name


def test_a_lock_and_a_refusal_send_the_same_statements(legacy, twin, make_user):
    flask_user, twin_user = make_user(), make_user()
    sides: list[tuple[Engine, Any, Any]] = [
        (_legacy_engine(legacy), legacy.test_client(), flask_user),
        (_twin_engine(twin), twin, twin_user),
    ]
    sent_by: list[Statements] = []
    for engine, client, user in sides:
        for _ in range(4):
            client.post("/auth/login", json={"username": user.username, "password": "x"})
        sent, stop = _recording(engine)
        try:
            # The fifth failure locks the account; the right password then finds it locked.
            _error(
                client.post("/auth/login", json={"username": user.username, "password": "x"}),
                401,
                "AUTH_REQUIRED",
            )
            _error(
                client.post("/auth/login", json={"username": user.username, "password": PASSWORD}),
                423,
                "LOCKED",
            )
        finally:
            stop()
        sent_by.append(sent)
    assert sent_by[0] and sent_by[1] == sent_by[0]


def test_a_logout_sends_the_same_statements_on_both_sides(legacy, twin, make_user):
    def log_in_and_out(client: Any) -> None:
        user = make_user()
        assert (
            client.post(
                "/auth/login", json={"username": user.username, "password": PASSWORD}
            ).status_code
            == 200
        )
        response = client.post("/auth/logout")
        assert response.status_code == 200, response.text

    flask_sent, twin_sent = _both(legacy, twin, log_in_and_out)
    assert any("UPDATE user_sessions SET revoked_at" in s for s in flask_sent), flask_sent
    assert twin_sent == flask_sent


@pytest.mark.parametrize("path", ["/api/health", "/api/health/database"])
def test_health_sends_the_same_statements_on_both_sides(legacy, twin, bearer, path):
    auth = bearer("manager")
    flask_sent, twin_sent = _both(legacy, twin, lambda client: client.get(path, headers=auth))
    assert "SELECT 1" in flask_sent
    assert twin_sent == flask_sent


def test_the_twins_report_the_one_connection_they_hold(twin, bearer):
    body = twin.get("/api/health/database", headers=bearer("manager")).json()
    assert body["status"] == "connected"
    assert body["pool"]["checked_out"] == 1  # the caller's lookup and PING share it


# -- a database away --------------------------------------------------------------------


@pytest.fixture
def down_twin(settings: Settings) -> Iterator[TestClient]:
    """The FastAPI app, configured for a database server that is not there."""
    down = settings.model_copy(update={"database_url": UNREACHABLE})
    with TestClient(create_fastapi_app(down), follow_redirects=False) as client:
        yield client


def test_the_twin_health_answers_its_own_body_with_the_database_down(down_twin):
    response = down_twin.get("/api/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unhealthy",
        "database": "disconnected",
        "version": shared.__version__,
        "error": "Database unavailable",
        "code": "UNAVAILABLE",
    }
    assert "127.0.0.1" not in response.text
    assert down_twin.get("/api/version").status_code == 200


def test_the_twin_database_report_with_the_database_down(down_twin, bearer):
    _error(down_twin.get("/api/health/database", headers=bearer("manager")), 503, "UNAVAILABLE")


def test_a_malformed_login_needs_no_database_on_either_side(down_twin, settings):
    """Both sides read and validate the body before they first need the database."""
    legacy_down = create_app(settings.model_copy(update={"database_url": UNREACHABLE}))
    try:
        for client in (legacy_down.test_client(), down_twin):
            for route in ("/auth/login", "/api/auth/token"):
                _error(
                    client.post(route, json={"username": 5, "password": "x"}),
                    400,
                    "VALIDATION_ERROR",
                )
            form = client.post("/auth/login", data={"username": "someone"})
            assert form.status_code == 303
            assert form.headers["Location"] == (
                "/login?next=%2F&error=VALIDATION_ERROR&username=someone"
            )
            # A well-formed one does need it: the database's absence is a 503.
            _error(
                client.post("/auth/login", json={"username": "a", "password": "b"}),
                503,
                "UNAVAILABLE",
            )
    finally:
        legacy_down.extensions["figway"].engine.dispose()
