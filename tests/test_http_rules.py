"""The HTTP rules every route follows, on both sides: JSON bodies must say they are JSON,
cookie-authenticated writes must come from our own site, security headers, trusted hosts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db.models import Playlist, User
from shared.web.hosts import TrustedHosts
from shared.web.origin import cross_site_refusal
from tests.conftest import assert_error

EVIL = "http://evil.example"
PLAYLIST = {"name": "Mine"}


def _playlists(db_session: Session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(Playlist)) or 0


# --- JSON bodies say so ------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain; charset=utf-8", "application/x-json", "multipart/mixed"],
)
def test_a_json_body_without_a_json_type_is_415(client, login, db_session, content_type):
    """A cross-site form can post text/plain without asking; it cannot post a JSON type."""
    user = login("readonly")
    kwargs = {"content_type": content_type} if content_type else {}
    response = client.put("/api/users/me/preferences", data=b'{"theme": "dark"}', **kwargs)
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    db_session.expire_all()
    assert db_session.get(User, user.id).preferences == {}


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON; charset=utf-8", "application/merge-patch+json"],
)
def test_json_and_json_suffixed_types_are_read(client, login, content_type):
    login("readonly")
    response = client.put(
        "/api/users/me/preferences", data=b'{"theme": "dark"}', content_type=content_type
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"preferences": {"theme": "dark"}}


def test_every_json_reader_requires_the_type(client, login, bearer):
    """The check sits in the one body reader: logins and creations alike."""
    assert_error(
        client.post("/api/auth/token", data=b'{"username": "a", "password": "b"}'),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    assert_error(
        client.post(
            "/auth/login", data=b'{"username": "a", "password": "b"}', content_type="text/plain"
        ),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    assert_error(
        client.post("/api/playlists", data=b'{"name": "x"}', headers=bearer("user")),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )


# --- cookie-authenticated writes come from our own site -----------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},  # a sandboxed frame, a data: URL
        {"Origin": "https://localhost:8443"},  # another port is another site
        {"Referer": f"{EVIL}/page"},
        {"Origin": EVIL, "Referer": "http://localhost/videos"},  # Origin decides
    ],
)
def test_a_cookie_write_from_another_site_is_403(client, login, db_session, headers):
    login("user")
    response = client.post("/api/playlists", json=PLAYLIST, headers=headers)
    assert_error(response, 403, "FORBIDDEN")
    assert response.get_json()["error"] == "Cross-site request refused"
    assert _playlists(db_session) == 0
    # Logging out is a write too: refused, the session still holds.
    assert_error(client.post("/auth/logout", json={}, headers=headers), 403, "FORBIDDEN")
    assert client.get("/auth/check").get_json()["authenticated"] is True


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no Origin nor Referer: not a browser's cross-site request
        {"Origin": "http://localhost"},
        {"Origin": "http://LOCALHOST:80"},
        {"Referer": "http://localhost/playlists"},
    ],
)
def test_a_cookie_write_from_our_own_site_is_served(client, login, db_session, headers):
    login("user")
    response = client.post("/api/playlists", json=PLAYLIST, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert _playlists(db_session) == 1


def test_bearer_callers_and_reads_are_left_alone(client, login, bearer, db_session):
    token = bearer("user")
    response = client.post("/api/playlists", json=PLAYLIST, headers={**token, "Origin": EVIL})
    assert response.status_code == 201
    login("user")  # a session cookie as well: the bearer token is what authenticates
    response = client.post(
        "/api/playlists", json={"name": "Two"}, headers={**token, "Origin": EVIL}
    )
    assert response.status_code == 201
    assert client.get("/api/playlists", headers={"Origin": EVIL}).status_code == 200
    assert _playlists(db_session) == 2


# --- security headers ----------------------------------------------------------------------

PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
}


def test_every_response_says_nosniff_and_pages_refuse_frames(client, login):
    api = client.get("/api/version")
    missing = client.get("/api/nothing-here")
    static = client.get("/static/js/app.js")
    static.close()
    page = client.get("/login")
    for response in (api, missing, static, page):
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.status_code
    for response in (api, missing, static):
        assert not any(name in response.headers for name in PAGE_HEADERS), response.headers
    assert {name: page.headers.get(name) for name in PAGE_HEADERS} == PAGE_HEADERS
    login("user")
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert {name: dashboard.headers.get(name) for name in PAGE_HEADERS} == PAGE_HEADERS


# --- trusted hosts -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/version", "/static//x", "/login", "/api/nothing"])
def test_an_untrusted_host_is_400_and_never_redirected_to(client, path):
    response = client.get(path, headers={"Host": "evil.example"})
    assert_error(response, 400, "BAD_REQUEST")
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:5000", "127.0.0.1:8000", "[::1]:8000", "localhost."]
)
def test_the_default_trusted_hosts_are_served(client, host):
    assert client.get("/api/version", headers={"Host": host}).status_code == 200


# --- the shared rules alone ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "host", "refused"),
    [
        ("https://figway.example", "figway.example", False),  # TLS ends at a proxy
        ("https://figway.example:443", "figway.example", False),
        ("http://figway.example:8000", "figway.example:8000", False),
        ("http://[::1]:8000", "[::1]:8000", False),
        ("http://figway.example", "figway.example:8000", True),
        ("https://sub.figway.example", "figway.example", True),
        ("ftp://figway.example", "figway.example", True),
        ("http://figway.example", None, True),
    ],
)
def test_same_host_compares_names_and_ports(origin, host, refused):
    refusal = cross_site_refusal(
        "DELETE",
        host=host,
        origin=origin,
        referer=None,
        authorization=None,
        cookie="other=1; session=abc",
        cookie_name="session",
    )
    assert (refusal is not None) is refused


def test_trusted_host_patterns():
    hosts = TrustedHosts(["localhost", ".figway.example", "[::1]"])
    assert hosts.allows("figway.example") and hosts.allows("a.b.figway.example:8443")
    assert hosts.allows("[::1]:8000") and hosts.allows("LocalHost") and hosts.allows(None)
    for host in ("evilfigway.example", "localhost.evil", "[::2]", "a b", "localhost/x", ""):
        assert not hosts.allows(host), host
    assert TrustedHosts(["*"]).allows("anything.example")
