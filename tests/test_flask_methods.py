"""HEAD, OPTIONS, a wrong method and a trailing slash answer the same on the FastAPI app alone
as on Flask, for every path of every twin (shared/web/methods.py).

While the gateway fronts both apps, it answers HEAD for the twins and sends OPTIONS and
paths no rule serves to Flask; once no route is on flask it sends them to FastAPI, and the
FastAPI app may be served alone: either way an existing client sees no change.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fastapi_app import create_fastapi_app
from shared.config import Settings
from tests.asgi_client import AsgiServer, Client
from tests.test_auth_coverage import ENTRIES, TWINS, concrete_path

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
PATHS = sorted({concrete_path(key.partition(" ")[2]) for key in TWINS})


@pytest.fixture
def both(flask_app, settings: Settings) -> Iterator[tuple[object, Client]]:
    server = AsgiServer(create_fastapi_app(settings))
    try:
        yield flask_app.test_client(), Client(server)
    finally:
        server.stop()


def _allow(response) -> set[str]:
    return {m.strip() for m in (response.headers.get("Allow") or "").split(",") if m.strip()}


def _answer(response) -> tuple[int, str | None, set[str], bytes]:
    try:
        content_type = response.headers.get("Content-Type")
        return response.status_code, content_type, _allow(response), response.data
    finally:
        response.close()


def test_every_twin_path_is_checked():
    assert len(PATHS) > 40, "the twins' paths were not found"
    # Not only API routes: the pages and the static files are twins too once they move.
    assert any(key.startswith("GET /api/") for key in TWINS)
    assert set(TWINS) <= set(ENTRIES)


@pytest.mark.parametrize("path", PATHS)
def test_options_head_and_wrong_methods_answer_as_flask(both, path):
    flask, fastapi = both
    options = _answer(flask.options(path)), _answer(fastapi.options(path))
    assert options[0][:3] == options[1][:3], (path, options)
    flask_allow = options[0][2]
    assert flask_allow and "OPTIONS" in flask_allow, options
    if "GET" in flask_allow:
        head = _answer(flask.head(path)), _answer(fastapi.head(path))
        # The status a GET would get, no body; never a 405.
        assert head[0][0] == head[1][0] != 405 and head[0][3] == head[1][3] == b"", (path, head)
    for method in METHODS:
        if method in flask_allow:
            continue
        wrong = _answer(flask.open(path, method=method)), _answer(fastapi.open(path, method=method))
        assert wrong[0][0] == wrong[1][0] == 405, (path, method, wrong)
        assert wrong[0][2] == wrong[1][2] == flask_allow, (path, method, wrong)


@pytest.mark.parametrize("path", ["/api/version/", "/api/videos/", "/auth/me/", "/api/nope"])
def test_a_trailing_slash_or_an_unknown_path_is_a_404_never_a_redirect(both, path):
    flask, fastapi = both
    answers = _answer(flask.get(path)), _answer(fastapi.get(path))
    assert answers[0][0] == answers[1][0] == 404, answers
