"""Framework errors come out in the legacy shape: never HTML, never a stack trace."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from starlette.testclient import TestClient

from shared.config import Settings
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


# --- the generic 404: a page for a browser, the legacy JSON for API clients ---------------

# What Chromium sends when it navigates to an address.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
API_CLIENTS = ("application/json", "*/*", None)  # None: no Accept header at all
LEGACY_404 = {"error": "Not found", "code": "NOT_FOUND"}
# Paths no route takes (a converter refusing "abc" included) and a static file that is not
# there: werkzeug's and Starlette's own not-found, never a view's missing row.
UNKNOWN = ("/no-such-page", "/api/nope", "/videos/abc", "/static/no-such-file.css")


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER, True),
        ("text/html", True),
        ("text/*", True),
        ("text/html;q=0.9, application/json;q=0.8", True),
        ("application/json, text/html;q=0.9", False),
        ("text/html, application/json", False),  # a tie: the API's answer
        ("application/json", False),
        ("*/*", False),
        ("", False),
        (None, False),
        ("image/avif,image/webp,*/*;q=0.8", False),  # an <img>: both by */* alike
        ("text/html;q=0, */*", False),  # HTML refused outright
        ("TEXT/HTML", True),  # media types are case-insensitive
        ("text/html;q=oops, application/json;q=0.1", False),  # a bad q drops its range
        ("garbage, text/html;level=1", True),
    ],
)
def test_prefers_html(accept, html):
    from shared.web.pages import prefers_html

    assert prefers_html(accept) is html


def _accept(accept: str | None) -> dict[str, str]:
    return {} if accept is None else {"Accept": accept}


@pytest.fixture
def fastapi_alone(settings: Settings) -> Iterator[TestClient]:
    """The FastAPI app alone on the same settings: its own 404, no gateway in front."""
    from fastapi_app import create_fastapi_app

    with TestClient(create_fastapi_app(settings), follow_redirects=False) as modern:
        yield modern


def _check_page(status: int, content_type: str, vary: str, html: str) -> None:
    assert status == 404, html
    assert content_type == "text/html; charset=utf-8"
    assert "Accept" in [v.strip() for v in vary.split(",")]
    assert re.search(r"<h1>404</h1>", html) and "<title>404 · figway</title>" in html
    assert "There is no page at this address." in html
    assert '<a href="/">Back to the dashboard</a>' in html  # the way home
    assert 'href="/static/css/app.css"' in html  # styled like every page
    assert "<nav" not in html  # a path no route takes resolves nobody: no navigation


@pytest.mark.parametrize("path", UNKNOWN)
def test_a_browser_gets_the_html_404_page_from_both_sides(client, fastapi_alone, path):
    legacy = client.get(path, headers=_accept(BROWSER))
    html = legacy.get_data(as_text=True)
    _check_page(legacy.status_code, legacy.content_type, legacy.headers.get("Vary", ""), html)
    modern = fastapi_alone.get(path, headers=_accept(BROWSER))
    _check_page(
        modern.status_code, modern.headers["content-type"], modern.headers.get("vary", ""), html
    )
    # The same template, the same context: the same bytes.
    assert modern.text == html
    for name in ("X-Frame-Options", "Content-Security-Policy", "X-Content-Type-Options"):
        assert legacy.headers[name] == modern.headers[name], name


@pytest.mark.parametrize("accept", API_CLIENTS)
@pytest.mark.parametrize("path", UNKNOWN)
def test_api_clients_keep_the_json_404_on_both_sides(client, fastapi_alone, path, accept):
    legacy = client.get(path, headers=_accept(accept))
    modern = fastapi_alone.get(path, headers=_accept(accept))
    assert_error(legacy, 404, "NOT_FOUND")
    assert legacy.get_json() == LEGACY_404 and legacy.content_type == "application/json"
    assert modern.status_code == 404 and modern.json() == LEGACY_404
    assert modern.headers["content-type"] == "application/json"
    for vary in (legacy.headers.get("Vary", ""), modern.headers.get("vary", "")):
        assert "Accept" in [v.strip() for v in vary.split(",")]


def test_a_logged_in_browser_gets_the_same_page(client, login, fastapi_alone):
    # Flask renders it per request: who is logged in must not show on it, as on FastAPI's.
    login("readonly")
    legacy = client.get("/no-such-page", headers=_accept(BROWSER))
    assert legacy.status_code == 404
    assert (
        legacy.get_data(as_text=True)
        == fastapi_alone.get("/no-such-page", headers=_accept(BROWSER)).text
    )


def test_a_missing_row_stays_json_whatever_accept_says(client, fastapi_alone, bearer):
    headers = {**bearer("readonly"), "Accept": BROWSER}
    assert_error(client.get("/api/videos/999", headers=headers), 404, "NOT_FOUND")
    modern = fastapi_alone.get("/api/videos/999", headers=headers)
    assert modern.status_code == 404 and modern.json()["code"] == "NOT_FOUND"
    assert modern.headers["content-type"] == "application/json"
    assert "vary" not in modern.headers or "Accept" not in modern.headers["vary"]


def test_other_framework_errors_stay_json_for_a_browser(client, fastapi_alone):
    # Only the not-found is negotiated: a 405 is an API client's mistake, JSON as ever.
    assert_error(client.delete("/auth/check", headers=_accept(BROWSER)), 405, "METHOD_NOT_ALLOWED")
    modern = fastapi_alone.delete("/auth/check", headers=_accept(BROWSER))
    assert modern.status_code == 405 and modern.json()["code"] == "METHOD_NOT_ALLOWED"
