"""Framework errors come out in the legacy shape: never HTML, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from tests.conftest import assert_error


def test_unknown_path_is_legacy_404(client):
    assert_error(client.get("/api/nope"), 404, "NOT_FOUND")


def test_wrong_method_is_legacy_405_with_allow(client):
    response = client.delete("/auth/check")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_oversized_body_is_413(client, settings):
    big = b"x" * (settings.max_upload_bytes + 128 * 1024)
    assert_error(
        client.post("/auth/login", data=big, content_type="application/json"), 413, "TOO_LARGE"
    )


def test_int_converter_rejects_non_integers_with_404(client, login):
    login("admin")
    assert_error(client.get("/api/users/abc/role"), 404, "NOT_FOUND")


def test_database_down_is_503_on_every_route_not_500(settings, tmp_path):
    from legacy_flask import create_app

    down = settings.model_copy(update={"database_url": "mysql://root@127.0.0.1:1/nowhere"})
    from shared.auth.tokens import issue_token

    app = create_app(down)
    token = issue_token(down, 1, "admin")["access_token"]
    try:
        client = app.test_client()
        for path in ("/api/videos", "/api/health/database", "/auth/check"):
            # A validly signed token: the user lookup is what meets the dead database.
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert_error(response, 503, "UNAVAILABLE")
        health = client.get("/api/health")
        assert health.status_code == 503 and health.get_json()["database"] == "disconnected"
    finally:
        app.extensions["figway"].close()


def test_a_missing_table_is_still_a_500(settings, tmp_path):
    from legacy_flask import create_app

    empty = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"})
    app = create_app(empty)
    try:
        response = app.test_client().get("/api/auth/me", headers={"Authorization": "Bearer x"})
        assert_error(response, 401, "AUTH_REQUIRED")  # a bad token never reaches the DB
        login = app.test_client().post("/auth/login", json={"username": "a", "password": "b"})
        assert_error(login, 500, "INTERNAL_ERROR")
    finally:
        app.extensions["figway"].close()


def test_ids_beyond_the_column_range_are_404_everywhere(client, login):
    # Found once in shared.services.find; SQLite's driver overflows on such ids.
    login("admin")
    huge = 2**64
    for method, path in [
        ("get", f"/api/downloads/{huge}"),
        ("get", f"/api/videos/{huge}/stream"),
        ("get", f"/api/videos/{huge}/thumbnail"),
        ("get", f"/api/artists/{huge}/thumbnail"),
        ("post", f"/api/videos/{huge}/refresh-metadata"),
        ("post", f"/api/artists/{huge}/videos/discover"),
        ("delete", f"/api/users/{huge}"),
    ]:
        assert_error(getattr(client, method)(path), 404, "NOT_FOUND")


def test_a_client_gone_mid_body_is_one_line_not_a_traceback(settings, caplog):
    """The twin reading a body whose client disconnected: no exception out of the app (the
    server would log a traceback for it), one INFO line, and nothing sent but the end."""
    import asyncio

    from fastapi_app import create_fastapi_app

    app = create_fastapi_app(settings)
    sent: list[MutableMapping[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/auth/login",
        "raw_path": b"/auth/login",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    with caplog.at_level(logging.INFO, logger="figway.modern"):
        asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 499
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == [
        "client disconnected during POST /auth/login"
    ]
