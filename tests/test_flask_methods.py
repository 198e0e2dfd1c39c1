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
from gateway import manifest as mf
from gateway.app import create_gateway
from shared.config import Settings
from tests.asgi_client import AsgiServer, Client
from tests.test_auth_coverage import ENTRIES, TWINS, concrete_path
from tests.test_contract import MANIFEST

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


@pytest.fixture
def flask_and_gateway(flask_app, settings: Settings, tmp_path) -> Iterator[tuple[object, Client]]:
    """Flask alone, and the gateway with every route on fastapi and no Flask side."""
    manifest = tmp_path / "migration_status.yaml"
    manifest.write_text(MANIFEST.read_text(encoding="utf-8"), encoding="utf-8")
    with mf.locked(manifest):
        mf.set_owners(manifest, {e.key: "fastapi" for e in mf.load(manifest).entries})
    gateway = create_gateway(
        settings.model_copy(update={"manifest": manifest}),
        legacy_factory=lambda: pytest.fail("the legacy side was built"),
        modern=create_fastapi_app(settings),
        manifest=manifest,
        flask_session=None,
    )
    server = AsgiServer(gateway)
    try:
        yield flask_app.test_client(), Client(server)
    finally:
        server.stop()


REDIRECTED = ["/api//videos?x=1", "/static//css/app.css", "/api/videos//1", "/api/auth//me"]
SECURITY = ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "HEAD"])
@pytest.mark.parametrize("path", REDIRECTED)
def test_the_all_fastapi_gateway_sends_werkzeugs_slash_redirects(flask_and_gateway, path, method):
    """werkzeug redirects a doubled slash where the merged path has a rule for the method
    (else its 404 or 405); the gateway, with no Flask side, answers the same."""
    flask, gateway = flask_and_gateway
    headers = {"Host": "localhost:8000"}
    theirs = flask.open(path, method=method, headers=headers)
    ours = gateway.open(path, method=method, headers=headers)
    try:
        assert ours.status_code == theirs.status_code, (path, method, theirs.status_code)
        assert ours.headers.get("Location") == theirs.headers.get("Location")
        assert _allow(ours) == _allow(theirs)
        if theirs.status_code != 308:
            # werkzeug merged the slashes and found the path's methods: a 405 the gateway
            # answers (FastAPI does not merge slashes), in the legacy shape.
            assert ours.headers["X-Served-By"] == "gateway" and ours.status_code == 405
            assert ours.get_json() == theirs.get_json()
            return
        assert ours.headers["X-Served-By"] == "gateway"
        assert ours.headers["Location"].startswith("http://localhost:8000/")
        assert ours.headers["Content-Type"] == theirs.headers["Content-Type"]
        assert ours.data == theirs.data
        assert all(ours.headers.get(h) == theirs.headers.get(h) for h in SECURITY)
    finally:
        theirs.close()
        ours.close()


def test_the_redirect_cases_are_redirected_by_flask(flask_app):
    """The paths above do make Flask redirect (a GET, at least), so the test checks some."""
    client = flask_app.test_client()
    for path in REDIRECTED:
        assert client.get(path).status_code == 308, path


def test_a_path_werkzeug_does_not_redirect_stays_the_owners(flask_and_gateway):
    _flask, gateway = flask_and_gateway
    answer = gateway.get("//api/version")
    assert answer.status_code == 404 and answer.headers["X-Served-By"] == "fastapi"
