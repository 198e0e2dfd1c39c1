"""The pages only the FastAPI side has (/search, /playlists/<id>, /downloads, /admin): auth as
the legacy pages answer it, the data each shows, escaping, 404s; and the gateway sends them to
FastAPI while every legacy route is still owned by flask."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from fastapi_app import create_fastapi_app
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Download, User
from tests.conftest import PASSWORD
from tests.factories import add_entry, make_artist, make_playlist, make_video

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
# Each page and the weakest role that may see it.
PAGES = {"/search": "readonly", "/playlists/{playlist}": "readonly", "/downloads": "user"}
PAGES["/admin"] = "admin"
ROLES = ("readonly", "user", "manager", "admin")


@pytest.fixture
def twin(settings: Settings) -> Iterator[TestClient]:
    """The FastAPI side alone: these pages have no legacy twin to compare with."""
    with TestClient(create_fastapi_app(settings), follow_redirects=False) as client:
        yield client


@pytest.fixture
def log_in(twin: TestClient, make_user: Callable[..., User]) -> Callable[[str], User]:
    """Log the twin's client in through its POST /auth/login (the session cookie, as a
    browser holds it) as a new user of `role`."""

    def do(role: str) -> User:
        user = make_user(role)
        answer = twin.post("/auth/login", json={"username": user.username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return user

    return do


@pytest.fixture
def public_playlist(db_session: Session, make_user: Callable[..., User]) -> int:
    owner = make_user("user")
    playlist = make_playlist(db_session, owner, name="Road trip", is_public=True)
    return playlist.id


def html_of(response) -> str:
    assert response.headers["content-type"].startswith("text/html"), response.headers
    return str(response.text)


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_form(twin, public_playlist, path):
    url = path.format(playlist=public_playlist)
    response = twin.get(url + "?q=ab")
    assert response.status_code == 302
    assert response.headers["location"] == f"/login?next={url}%3Fq%3Dab"


def test_the_login_redirect_keeps_the_query_string_as_sent_and_varies_by_cookie(twin):
    """As the legacy pages' (tests/test_pages.py): repeated keys, a + and escapes stay as
    the browser sent them, not as the handlers read them."""
    response = twin.get("/search?b=%20c+d&q=1&q=2")
    assert response.status_code == 302
    assert response.headers["location"] == "/login?next=/search%3Fb%3D%2520c%2Bd%26q%3D1%26q%3D2"
    assert "Cookie" in response.headers["vary"]


def test_pages_vary_by_cookie_unless_the_caller_came_with_a_token(twin, log_in, bearer):
    """Flask reads its session to find a caller without a bearer token, and says so."""
    assert "vary" not in twin.get("/search", headers=bearer("readonly")).headers
    log_in("admin")
    for path in PAGES:
        response = twin.get(path.format(playlist=999999))
        assert "Cookie" in response.headers["vary"], path


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_login_without_the_database(settings, path):
    """The guard answers before a handler's connection is opened: nobody listens at the
    database's address, and the anonymous visitor still gets the 302, not a 503."""
    down = settings.model_copy(update={"database_url": "mysql://root@127.0.0.1:9/none"})
    with TestClient(create_fastapi_app(down), follow_redirects=False) as client:
        response = client.get(path.format(playlist=1))
    assert response.status_code == 302, response.text
    assert response.headers["location"] == f"/login?next={path.format(playlist=1)}"


@pytest.mark.parametrize("path", PAGES)
def test_each_page_is_for_its_roles_only(twin, bearer, public_playlist, path):
    url = path.format(playlist=public_playlist)
    weakest = ROLES.index(PAGES[path])
    for role in ROLES:
        response = twin.get(url, headers=bearer(role))
        if ROLES.index(role) >= weakest:
            assert response.status_code == 200, (role, response.text)
        else:
            assert response.status_code == 403, role
            html = html_of(response)
            assert "You do not have permission to see this page." in html
            assert f'<span class="role">{role}</span>' in html  # the 403 page shows who


def test_the_nav_links_only_what_the_role_may_open(twin, bearer):
    def links(role: str) -> set[str]:
        html = html_of(twin.get("/search", headers=bearer(role)))
        return {
            p for p in ("/search", "/downloads", "/admin", "/settings") if f'href="{p}"' in html
        }

    assert links("readonly") == {"/search"}
    assert links("user") == links("manager") == {"/search", "/downloads"}
    assert links("admin") == {"/search", "/downloads", "/admin", "/settings"}


def test_search_shows_matching_videos_and_artists_escaped(twin, bearer, db_session):
    queen = make_artist(db_session, name=f"Queen {XSS}")
    make_video(db_session, queen, title="Bohemian Rhapsody")
    other = make_artist(db_session, name="Abba")
    make_video(db_session, other, title=f"Queen of {XSS}")
    make_video(db_session, other, title="Waterloo")
    html = html_of(twin.get("/search?q=queen", headers=bearer("readonly")))
    assert XSS not in html
    assert 'value="queen"' in html
    videos, artists = html.split('data-results="artists"')
    assert "Bohemian Rhapsody" in videos and f"Queen of {ESCAPED}" in videos
    assert "Waterloo" not in html
    assert f'<a href="/artists/{queen.id}">Queen {ESCAPED}</a>' in artists
    assert "Abba" not in artists
    # Readonly users neither ask the provider (GET /api/metadata/search is for users) nor import.
    assert "data-provider" not in html


def test_search_offers_the_provider_to_users_and_import_to_managers(twin, bearer):
    user_page = html_of(twin.get("/search", headers=bearer("user")))
    assert "data-provider-search" in user_page and 'data-can-import=""' in user_page
    assert 'data-results="videos"' not in user_page  # no words, no results yet
    manager_page = html_of(twin.get("/search", headers=bearer("manager")))
    assert 'data-can-import="1"' in manager_page


def test_search_words_out_of_bounds_are_said_not_failed(twin, bearer):
    response = twin.get("/search?q=" + "x" * 201, headers=bearer("readonly"))
    assert response.status_code == 200
    assert "q is required, 1 to 200 characters" in html_of(response)


def test_a_playlist_shows_its_entries_in_order_escaped(twin, log_in, db_session):
    owner = log_in("user")
    artist = make_artist(db_session, name=f"Band {XSS}")
    first = make_video(db_session, artist, title="First song")
    second = make_video(db_session, artist, title=f"Second {XSS}")
    playlist = make_playlist(db_session, owner, name=f"Mix {XSS}", description=f"About {XSS}")
    add_entry(db_session, playlist, second, 1)
    add_entry(db_session, playlist, first, 0)
    html = html_of(twin.get(f"/playlists/{playlist.id}"))
    assert XSS not in html
    assert f"<title>Mix {ESCAPED} · figway</title>" in html and f"About {ESCAPED}" in html
    assert html.index("First song") < html.index(f"Second {ESCAPED}")
    assert f"by Band {ESCAPED}" in html and "yours" in html and "2 videos" in html
    # The owner may change it: the rename form, the entries' buttons, and their script.
    assert f'data-rename="/api/playlists/{playlist.id}"' in html
    assert html.count("data-move=") == 4 and html.count("data-remove ") == 2
    assert "/static/js/playlist.js" in html


def test_only_the_owner_or_an_admin_may_change_a_playlist(twin, bearer, db_session, make_user):
    owner = make_user("user", username=f"x{XSS}"[:20])
    playlist = make_playlist(db_session, owner, name="Shared", is_public=True)
    seen = html_of(twin.get(f"/playlists/{playlist.id}", headers=bearer("manager")))
    assert "by x&lt;script&gt;" in seen and "data-rename" not in seen and "playlist.js" not in seen
    admin = html_of(twin.get(f"/playlists/{playlist.id}", headers=bearer("admin")))
    assert "data-rename" in admin and "/static/js/playlist.js" in admin


def test_unknown_and_private_playlists_are_the_404_page(twin, bearer, db_session, make_user):
    private = make_playlist(db_session, make_user("user"), name="Mine only", is_public=False)
    for path in (f"/playlists/{private.id}", "/playlists/999999", f"/playlists/{2**70}"):
        response = twin.get(path, headers=bearer("manager"))
        assert response.status_code == 404, path
        html = html_of(response)
        assert "Playlist not found." in html and "Mine only" not in html
        assert '<span class="role">manager</span>' in html
    # An admin sees every playlist, as GET /api/playlists/<id> lets them.
    assert twin.get(f"/playlists/{private.id}", headers=bearer("admin")).status_code == 200


def test_downloads_shows_the_queue_newest_first_with_its_actions(twin, bearer, db_session):
    artist = make_artist(db_session, name="Daft Punk")
    video = make_video(db_session, artist, title=f"Around {XSS}", url="http://example.test/v")
    old = Download(video_id=video.id, status="failed", progress=40, error_message=f"No {XSS}")
    db_session.add(old)
    db_session.commit()
    running = Download(video_id=video.id, status="running", progress=55, started_at=utcnow())
    db_session.add(running)
    db_session.commit()
    html = html_of(twin.get("/downloads", headers=bearer("user")))
    assert XSS not in html and f"Around {ESCAPED}" in html and f"No {ESCAPED}" in html
    assert html.index(f'data-download-row="{running.id}"') < html.index(
        f'data-download-row="{old.id}"'
    )
    assert f'data-download-row="{running.id}" data-live' in html  # followed live
    assert f'data-download-row="{old.id}">' in html  # ended: not followed
    assert "<span data-download-progress>55%</span>" in html
    assert "/static/js/vendor/socket.io.min.js" in html and "/static/js/downloads.js" in html
    # Cancel for everyone who may see the page; Remove (DELETE: manager) only for managers.
    assert f'data-cancel="/api/downloads/{running.id}/cancel">' in html
    assert "data-remove-download" not in html
    managed = html_of(twin.get("/downloads", headers=bearer("manager")))
    assert f'data-remove-download="/api/downloads/{old.id}">' in managed
    assert f'data-remove-download="/api/downloads/{running.id}" hidden' in managed


def test_admin_shows_system_figures_users_and_the_log(twin, log_in, make_user, settings):
    me = log_in("admin")
    make_user("readonly", username="reader", email=f"r{XSS}@example.test")
    settings.log_path.parent.mkdir(parents=True, exist_ok=True)
    settings.log_path.write_text(f"first line\nlast line {XSS}\n")
    html = html_of(twin.get("/admin"))
    assert XSS not in html
    assert f"last line {ESCAPED}" in html and "first line" in html
    assert f"r{ESCAPED}@example.test" in html
    assert f'data-user="{me.id}"' in html and "(you)" in html
    assert 'data-role="/api/users/' in html and '<option value="readonly" selected>' in html
    # The figures of GET /api/admin/system: Python's version always, the process's pid.
    assert f'data-version="python">{platform.python_version()}<' in html
    assert f"pid {os.getpid()}," in html


def test_the_gateway_sends_the_new_pages_to_fastapi_while_flask_owns_the_rest(
    settings: Settings, tmp_path: Path, bearer, public_playlist
):
    from gateway.asgi import create_figway
    from tests.test_contract import legacy_manifest

    manifest = legacy_manifest(tmp_path / "migration_status.yaml")  # every route: flask
    gateway = create_figway(settings.model_copy(update={"manifest": manifest}))
    headers = bearer("admin")
    with TestClient(gateway, base_url="http://127.0.0.1", follow_redirects=False) as gw:
        for path in ("/search?q=x", f"/playlists/{public_playlist}", "/downloads", "/admin"):
            response = gw.get(path, headers=headers)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["x-served-by"] == "fastapi", path
            assert "<h1" in response.text
        anonymous = gw.get("/admin")
        assert (anonymous.status_code, anonymous.headers["x-served-by"]) == (302, "fastapi")
        # The pages around them are still Flask's, the list of playlists included.
        legacy = gw.get("/playlists", headers=headers)
        assert (legacy.status_code, legacy.headers["x-served-by"]) == (200, "flask")
        assert 'href="/search"' in legacy.text  # the shared nav links to the new pages
