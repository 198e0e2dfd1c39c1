"""The server-rendered pages: auth redirects, roles, rendered data, escaping, 404s, static."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.db.models import Artist, Download, Playlist, PlaylistEntry, Setting, User, Video
from shared.web.pages import STATIC
from tests.conftest import PASSWORD

if TYPE_CHECKING:
    from werkzeug.test import TestResponse

READONLY_PAGES = ["/", "/artists", "/artists/{artist}", "/videos", "/videos/{video}", "/playlists"]
XSS = "<script>alert(1)</script>"


def add_artist(db_session: Session, name: str = "Daft Punk", **fields: Any) -> Artist:
    artist = Artist(name=name, genres=fields.pop("genres", []), **fields)
    db_session.add(artist)
    db_session.commit()
    return artist


def add_video(
    db_session: Session, artist: Artist, title: str, status: str = "wanted", **fields: Any
) -> Video:
    video = Video(artist_id=artist.id, title=title, status=status, **fields)
    db_session.add(video)
    db_session.commit()
    return video


def add_playlist(
    db_session: Session,
    owner: User,
    name: str,
    is_public: bool = False,
    videos: Iterable[Video] = (),
) -> Playlist:
    playlist = Playlist(name=name, owner_id=owner.id, is_public=is_public)
    db_session.add(playlist)
    db_session.flush()
    for position, video in enumerate(videos):
        db_session.add(PlaylistEntry(playlist_id=playlist.id, video_id=video.id, position=position))
    db_session.commit()
    return playlist


def count(html: str, name: str) -> int:
    match = re.search(rf'data-count="{re.escape(name)}">(\d+)<', html)
    assert match, f"no count {name!r} in page"
    return int(match.group(1))


def is_html(response: TestResponse) -> bool:
    return response.mimetype == "text/html"


# --- anonymous visitors -------------------------------------------------------------------


@pytest.mark.parametrize("path", [*READONLY_PAGES, "/settings"])
def test_anonymous_is_sent_to_login(client, path):
    path = path.format(artist=1, video=1)
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"


def test_redirect_keeps_the_query_string_encoded(client):
    response = client.get("/videos?status=wanted&offset=50")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/videos%3Fstatus%3Dwanted%26offset%3D50"


def test_redirect_keeps_the_query_string_as_sent(client):
    """Repeated keys, a + and escapes stay as the browser sent them, and the body is the
    small HTML page werkzeug writes, its link escaped."""
    response = client.get("/videos?b=%20c+d&a=1&a=2&q=<x>")
    assert response.status_code == 302 and is_html(response)
    location = "/login?next=/videos%3Fb%3D%2520c%2Bd%26a%3D1%26a%3D2%26q%3D%3Cx%3E"
    assert response.headers["Location"] == location
    html = response.get_data(as_text=True)
    assert f'<a href="{location}">{location}</a>' in html
    assert "Cookie" in response.headers.get("Vary", "")


@pytest.mark.parametrize("path", ["/", "/artists", "/login"])
def test_pages_carry_the_page_headers(client, login, path):
    login("readonly")
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # The session slides: a page re-signs the cookie, and its answer varies by it.
    assert "session=" in response.headers["Set-Cookie"]
    assert "Cookie" in response.headers["Vary"]


def test_login_page_renders_a_form_with_a_safe_next(client):
    response = client.get("/login?next=/videos%3Fstatus%3Dwanted")
    assert response.status_code == 200 and is_html(response)
    html = response.get_data(as_text=True)
    assert '<form class="stack" method="post" action="/auth/login">' in html
    assert 'name="username"' in html and 'name="password" type="password"' in html
    assert 'name="next" value="/videos?status=wanted"' in html
    assert "data-logout" not in html  # no nav for anonymous visitors


def test_login_page_escapes_next(client):
    html = client.get("/login", query_string={"next": '/x"><b>hi'}).get_data(as_text=True)
    assert 'value="/x&#34;&gt;&lt;b&gt;hi"' in html
    assert "<b>hi" not in html


def test_form_login_from_the_page_lands_on_next(client, make_user):
    user = make_user("readonly")
    response = client.post(
        "/auth/login",
        data={"username": user.username, "password": PASSWORD, "next": "/videos?status=wanted"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/videos?status=wanted"
    assert client.get("/videos?status=wanted").status_code == 200


def test_failed_form_login_redirects_back_to_the_form(client, make_user):
    """Post/Redirect/Get: the browser lands on GET /login (a refresh does not re-post the
    password) and the form shows the error and keeps the name typed."""
    user = make_user("readonly")
    response = client.post(
        "/auth/login", data={"username": user.username, "password": "nope", "next": "/artists"}
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location == f"/login?next=%2Fartists&error=AUTH_REQUIRED&username={user.username}"
    assert "nope" not in location and "Set-Cookie" not in response.headers
    for _ in range(2):  # and again, as a refresh of the page does
        page = client.get(location)
        assert page.status_code == 200 and is_html(page)
        html = page.get_data(as_text=True)
        assert '<p class="alert" role="alert">Invalid username or password</p>' in html
        assert f'name="username" value="{user.username}"' in html
        assert 'name="next" value="/artists"' in html and "nope" not in html


def test_form_login_missing_password_and_locked_say_so_on_the_form(client, make_user, db_session):
    user = make_user("readonly")
    response = client.post("/auth/login", data={"username": user.username, "next": "/<script>"})
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Enter a username and a password" in html and "<script>" not in html
    user.locked_until = utcnow() + timedelta(minutes=5)
    db_session.commit()
    response = client.post("/auth/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/login?next=%2F&error=LOCKED&username={user.username}"
    assert "Account locked" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_login_page_says_only_what_it_knows(client):
    """The page takes an error code, not a message: a crafted link cannot put words on it."""
    html = client.get(
        "/login", query_string={"error": "Call +1 555 0100 now", "username": '"><b>x'}
    ).get_data(as_text=True)
    assert 'role="alert"' not in html and "555" not in html
    assert 'value="&#34;&gt;&lt;b&gt;x"' in html


# Each is refused: it is not a path of this site, or is one only to a lenient reader.
HOSTILE_NEXT = [
    "//evil.example/",
    "/\t/evil.example",
    "/\n/evil.example",
    "\t//evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "/%5Cevil.example",
    "/%2F/evil.example",
    "/%09/evil.example",
    "%2F%2Fevil.example",
    "http://evil.example/",
    "HTTPS:evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "\u2028//evil.example",
    "/\u00ad/evil.example",
    "",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_page_and_form_login_refuse_hostile_next(client, make_user, target):
    html = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert 'name="next" value="/"' in html
    user = make_user("readonly")
    response = client.post(
        "/auth/login", data={"username": user.username, "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/x\r\nSet-Cookie: evil=1", "/xSet-Cookie:%20evil=1"),
        ("/videos\x00\x1b?status=wanted", "/videos?status=wanted"),
        ("/caf\u00e9", "/caf%C3%A9"),
    ],
)
def test_control_characters_are_dropped_from_next(client, make_user, target, expected):
    """Once 500 on Flask and a dropped connection on FastAPI (a header may not hold them)."""
    html = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert f'name="next" value="{expected}"' in html
    user = make_user("readonly")
    response = client.post(
        "/auth/login", data={"username": user.username, "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302 and response.headers["Location"] == expected
    assert "evil" not in response.headers.get("Set-Cookie", "")
    failed = client.post("/auth/login", data={"username": user.username, "next": target})
    assert failed.status_code == 303 and "\r" not in failed.headers["Location"]


# --- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", READONLY_PAGES)
def test_readonly_sees_each_page(client, login, db_session, path):
    user = login("readonly")
    artist = add_artist(db_session)
    video = add_video(db_session, artist, "Around the World")
    add_playlist(db_session, user, "Mine")
    response = client.get(path.format(artist=artist.id, video=video.id))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert is_html(response)
    html = response.get_data(as_text=True)
    assert user.username in html and "data-logout" in html
    assert 'href="/settings"' not in html  # the settings link is for admins only


@pytest.mark.parametrize("role", ["readonly", "manager"])
def test_settings_page_is_403_below_admin(client, login, role):
    login(role)
    response = client.get("/settings")
    assert response.status_code == 403 and is_html(response)
    assert "403" in response.get_data(as_text=True)


def test_the_403_page_shows_who_is_there(client, login):
    user = login("manager")
    response = client.get("/settings")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "<h1>403</h1>" in html and "You do not have permission to see this page." in html
    assert f'<span class="username">{user.username}</span>' in html
    assert '<span class="role">manager</span>' in html and 'href="/settings"' not in html


def test_bearer_token_also_opens_pages(client, bearer):
    assert client.get("/videos", headers=bearer("readonly")).status_code == 200


# --- dashboard ------------------------------------------------------------------------------


def test_dashboard_counts(client, login, make_user, db_session):
    user = login("readonly")
    other = make_user("user")
    artist = add_artist(db_session)
    add_artist(db_session, "Justice")
    wanted = add_video(db_session, artist, "One", "wanted")
    add_video(db_session, artist, "Two", "wanted")
    done = add_video(db_session, artist, "Three", "downloaded", file_path="/m/3.mp4")
    db_session.add_all(
        [
            Download(video_id=wanted.id, status="queued"),
            Download(video_id=done.id, status="completed", progress=100),
        ]
    )
    add_playlist(db_session, user, "Mine")
    add_playlist(db_session, other, "Shared", is_public=True)
    add_playlist(db_session, other, "Hidden")
    html = client.get("/").get_data(as_text=True)
    assert count(html, "artists") == 2
    assert count(html, "videos") == 3
    assert count(html, "videos-wanted") == 2 and count(html, "videos-downloaded") == 1
    assert count(html, "videos-failed") == 0
    assert count(html, "downloads-queued") == 1 and count(html, "downloads-completed") == 1
    assert count(html, "playlists") == 2  # the caller's and the public one
    assert f'href="/videos/{done.id}">Three</a>' in html  # recently added


def test_admin_nav_has_settings(client, login):
    login("admin")
    assert 'href="/settings"' in client.get("/").get_data(as_text=True)


# --- artists --------------------------------------------------------------------------------


def test_artists_page_lists_with_video_counts(client, login, db_session):
    login("readonly")
    artist = add_artist(db_session, "Björk", genres=["art pop", "electronic"])
    add_video(db_session, artist, "Army of Me")
    add_video(db_session, artist, "Hyperballad")
    html = client.get("/artists").get_data(as_text=True)
    assert f'<a href="/artists/{artist.id}">Björk</a>' in html
    assert "art pop, electronic" in html
    assert '<td class="num">2</td>' in html


def test_artists_page_is_paged_by_50(client, login, db_session):
    login("readonly")
    db_session.add_all([Artist(name=f"Artist {i:03d}", genres=[]) for i in range(51)])
    db_session.commit()
    first = client.get("/artists").get_data(as_text=True)
    assert first.count('<a href="/artists/') == 50
    assert 'href="/artists?page=2"' in first and 'rel="prev"' not in first
    assert "Artist 049" in first and "Artist 050" not in first
    second = client.get("/artists?page=2").get_data(as_text=True)
    assert second.count('<a href="/artists/') == 1 and "Artist 050" in second
    assert 'href="/artists?page=1"' in second and 'rel="next"' not in second


@pytest.mark.parametrize("page", ["abc", "-3", "0", "", "1.5", "9" * 30, "9" * 5000])
def test_artists_bad_page_never_fails(client, login, db_session, page):
    login("readonly")
    add_artist(db_session, "Solo")
    response = client.get("/artists", query_string={"page": page})
    assert response.status_code == 200
    assert "Solo" in response.get_data(as_text=True)


def test_artist_page_lists_its_videos(client, login, db_session):
    login("readonly")
    artist = add_artist(db_session, "Justice", imvdb_id=42)
    mine = add_video(db_session, artist, "D.A.N.C.E.", "downloaded", year=2007, duration=242)
    other = add_video(db_session, add_artist(db_session, "Other"), "Not Here")
    html = client.get(f"/artists/{artist.id}").get_data(as_text=True)
    assert "<h1>Justice</h1>" in html
    assert f'<a href="/videos/{mine.id}">D.A.N.C.E.</a>' in html
    assert "2007" in html and "4:02" in html
    assert count(html, "videos-downloaded") == 1
    assert f"/videos/{other.id}" not in html


def test_html_is_escaped(client, login, db_session):
    login("readonly")
    artist = add_artist(db_session, XSS, genres=[XSS])
    video = add_video(db_session, artist, XSS, url="javascript:alert(1)")
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ["/", "/artists", f"/artists/{artist.id}", "/videos", f"/videos/{video.id}"]:
        html = client.get(path).get_data(as_text=True)
        assert escaped in html, path
        assert XSS not in html, path
    # Escaping does not defuse a javascript: link: such a source is shown as text only.
    assert 'href="javascript:' not in client.get(f"/videos/{video.id}").get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/artists/999",
        "/videos/999",
        "/artists/99999999999999999999",
        "/videos/99999999999999999999",
    ],
)
def test_unknown_ids_are_html_404(client, login, path):
    login("readonly")
    response = client.get(path)
    assert response.status_code == 404 and is_html(response)
    html = response.get_data(as_text=True)
    assert "404" in html and "not found" in html


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/artists/{missing}", "Artist not found."),
        ("/videos/{missing}", "Video not found."),
        ("/artists/2147483648", "Artist not found."),
        ("/videos/2147483648", "Video not found."),
    ],
)
def test_a_missing_row_is_a_404_page_naming_what(client, login, db_session, path, message):
    user = login("readonly")
    video = add_video(db_session, add_artist(db_session), "Here")
    response = client.get(path.format(missing=video.id + 1))
    assert response.status_code == 404 and is_html(response)
    html = response.get_data(as_text=True)
    assert f"<p>{message}</p>" in html and "<title>404 · figway</title>" in html
    assert f'<span class="username">{user.username}</span>' in html  # still logged in


# --- videos ---------------------------------------------------------------------------------


def test_videos_page_filters_by_status(client, login, db_session):
    login("readonly")
    artist = add_artist(db_session)
    add_video(db_session, artist, "Wanted One", "wanted")
    add_video(db_session, artist, "Got One", "downloaded")
    html = client.get("/videos?status=wanted").get_data(as_text=True)
    assert "Wanted One" in html and "Got One" not in html
    everything = client.get("/videos").get_data(as_text=True)
    assert "Wanted One" in everything and "Got One" in everything


def test_videos_page_pages_with_limit_and_offset(client, login, db_session):
    login("readonly")
    artist = add_artist(db_session)
    for title in ["A", "B", "C"]:
        add_video(db_session, artist, f"Song {title}", "wanted")
    first = client.get("/videos?status=wanted&limit=2").get_data(as_text=True)
    assert "Song A" in first and "Song B" in first and "Song C" not in first
    assert 'href="/videos?status=wanted&amp;limit=2&amp;offset=2"' in first
    second = client.get("/videos?status=wanted&limit=2&offset=2").get_data(as_text=True)
    assert "Song C" in second and "Song A" not in second
    assert 'href="/videos?status=wanted&amp;limit=2"' in second  # back to the start
    assert 'rel="next"' not in second


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "limit=abc&offset=-5",
        "limit=0",
        "limit=100000&offset=" + "9" * 40,
        "offset=x",
    ],
)
def test_videos_bad_query_never_fails(client, login, db_session, query):
    login("readonly")
    add_video(db_session, add_artist(db_session), "Still Listed")
    response = client.get(f"/videos?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Still Listed" in html or "offset" in query


def test_video_page_has_a_player(client, login, db_session):
    login("readonly")
    artist = add_artist(db_session)
    video = add_video(
        db_session,
        artist,
        "Da Funk",
        "downloaded",
        file_path="/m/x.mp4",
        url="https://example.test/watch?v=1&t=2",
    )
    db_session.add(Download(video_id=video.id, status="completed", progress=100))
    db_session.commit()
    html = client.get(f"/videos/{video.id}").get_data(as_text=True)
    assert f'src="/api/videos/{video.id}/stream"' in html
    assert f'poster="/api/videos/{video.id}/thumbnail"' in html
    assert "<video" in html and "/m/x.mp4" not in html  # no server path leaks
    assert 'href="https://example.test/watch?v=1&amp;t=2"' in html
    assert "100%" in html


def test_video_page_details_and_its_last_downloads(client, login, db_session):
    login("readonly")
    artist = add_artist(db_session, "Long Player")
    video = add_video(db_session, artist, "Epic", year=1999, duration=3725, imvdb_id=77)
    start = utcnow() - timedelta(hours=10)
    statuses = ["failed", "completed", "queued", "running", "cancelled", "failed", "completed"]
    for i, status in enumerate(statuses):
        db_session.add(
            Download(
                video_id=video.id,
                status=status,
                progress=i * 10,
                error_message=f"{XSS} {i}" if status == "failed" else None,
                created_at=start + timedelta(hours=i),
            )
        )
    db_session.commit()
    html = client.get(f"/videos/{video.id}").get_data(as_text=True)
    assert "<dt>Length</dt><dd>1:02:05</dd>" in html and "<dd>1999</dd>" in html
    assert f'<a href="/artists/{artist.id}">Long Player</a>' in html
    rows = re.findall(r'<td class="num"[^>]*>(\d+)%</td>', html)
    assert rows == ["60", "50", "40", "30", "20"]  # the last five, newest first
    assert html.count("data-download-live=") == 2  # queued and running follow live
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 5" in html and XSS not in html


def test_video_without_file_offers_download_to_users(client, login, db_session):
    login("user")
    video = add_video(db_session, add_artist(db_session), "Wanted", url="https://example.test/v")
    html = client.get(f"/videos/{video.id}").get_data(as_text=True)
    assert "<video" not in html and "No file downloaded yet" in html
    assert f'data-download="/api/videos/{video.id}/download"' in html


def test_video_download_button_hidden_from_readonly(client, login, db_session):
    login("readonly")
    video = add_video(db_session, add_artist(db_session), "Wanted", url="https://example.test/v")
    assert "data-download=" not in client.get(f"/videos/{video.id}").get_data(as_text=True)


# --- playlists and settings -------------------------------------------------------------------


def test_playlists_page_shows_own_and_public(client, login, make_user, db_session):
    user = login("readonly")
    other = make_user("user", username="someone")
    artist = add_artist(db_session)
    video = add_video(db_session, artist, "Digital Love")
    add_playlist(db_session, user, "My Private", videos=[video])
    add_playlist(db_session, other, "Their Public", is_public=True)
    add_playlist(db_session, other, "Their Secret")
    html = client.get("/playlists").get_data(as_text=True)
    assert "My Private" in html and "Their Public" in html and "Their Secret" not in html
    assert "by someone" in html and "1 video<" in html
    assert f'<a href="/videos/{video.id}">Digital Love</a>' in html


def test_playlist_entries_are_listed_in_their_order(client, login, db_session):
    user = login("readonly")
    artist = add_artist(db_session)
    first, second, third = (add_video(db_session, artist, t) for t in ("C one", "A two", "B three"))
    add_playlist(db_session, user, "Ordered", videos=[first, second, third])
    add_playlist(db_session, user, "Nothing yet")
    html = client.get("/playlists").get_data(as_text=True)
    assert re.findall(r'<li><a href="/videos/\d+">([^<]+)</a>', html) == [
        "C one",
        "A two",
        "B three",
    ]
    assert "3 videos<" in html and "0 videos<" in html and '<p class="muted">Empty.</p>' in html
    assert html.index("Nothing yet") < html.index("Ordered")  # playlists by name


def test_settings_page_shows_json_values_as_json(client, login, db_session):
    login("admin")
    db_session.add_all(
        [
            Setting(key="formats", value=["mp4", "webm"]),
            Setting(key="limits", value={"name": "ü"}),
            Setting(key="enabled", value=True),
            Setting(key="empty_token", value=None),
        ]
    )
    db_session.commit()
    html = client.get("/settings").get_data(as_text=True)
    assert "<code>[&#34;mp4&#34;, &#34;webm&#34;]</code>" in html
    assert "<code>{&#34;name&#34;: &#34;ü&#34;}</code>" in html
    assert "<code>true</code>" in html and "<code>null</code>" in html  # nothing to mask


def test_settings_page_masks_secrets(client, login, db_session):
    login("admin")
    db_session.add_all(
        [
            Setting(key="metadata_api_key", value="s3cret-value", description="provider key"),
            Setting(key="download_dir", value="/srv/videos", description=XSS),
            Setting(key="max_parallel", value=3),
        ]
    )
    db_session.commit()
    response = client.get("/settings")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "s3cret-value" not in html and "********" in html
    assert "/srv/videos" in html and "<code>3</code>" in html
    assert XSS not in html and "&lt;script&gt;" in html


# --- static files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        ("/static/css/app.css", "text/css"),
        ("/static/js/app.js", "javascript"),
        ("/static/img/logo.svg", "image/svg+xml"),
    ],
)
def test_static_files_are_public(client, path, mimetype):
    response = client.get(path)
    assert response.status_code == 200
    # .js is text/ or application/javascript depending on the system's mime table.
    assert response.mimetype.endswith(mimetype)
    response.close()


CSS = "/static/css/app.css"


def fetch(client: Any, path: str, method: str = "GET", **headers: str) -> TestResponse:
    """The answer, its body read and its file closed (an open file is a warning here)."""
    response: TestResponse = client.open(path, method=method, headers=headers)
    response.get_data()
    response.close()
    return response


def test_static_files_are_cached_by_validation(client):
    """No max age (Flask's default): a browser revalidates with the ETag or the date."""
    response = fetch(client, CSS)
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Length"] == str((STATIC / "css/app.css").stat().st_size)
    etag, last_modified = response.headers["ETag"], response.headers["Last-Modified"]
    for headers in ({"If-None-Match": etag}, {"If-Modified-Since": last_modified}):
        again = fetch(client, CSS, **headers)
        assert again.status_code == 304 and again.get_data() == b""
        assert again.headers["ETag"] == etag and "Content-Type" not in again.headers
    stale = fetch(client, CSS, **{"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.get_data() == response.get_data()
    assert fetch(client, CSS, **{"If-Match": '"stale"'}).status_code == 412


def test_static_ranges(client):
    content = (STATIC / "css/app.css").read_bytes()
    part = fetch(client, CSS, **{"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.get_data() == content[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(content)}"
    etag = part.headers["ETag"]
    if_range = fetch(client, CSS, **{"Range": "bytes=-5", "If-Range": etag})
    assert if_range.status_code == 206 and if_range.get_data() == content[-5:]
    changed = fetch(client, CSS, **{"Range": "bytes=-5", "If-Range": '"other"'})
    assert changed.status_code == 200 and changed.get_data() == content
    for unsatisfiable in (f"bytes={len(content)}-", "bytes=0-1,5-6"):
        refused = fetch(client, CSS, **{"Range": unsatisfiable})
        assert refused.status_code == 416
        assert refused.get_json()["code"] == "RANGE_NOT_SATISFIABLE"


def test_static_head_has_the_headers_and_no_body(client):
    response = fetch(client, CSS, "HEAD")
    assert response.status_code == 200 and response.get_data() == b""
    assert response.headers["Content-Length"] == str((STATIC / "css/app.css").stat().st_size)
    assert response.mimetype == "text/css"


@pytest.mark.parametrize(
    "path",
    [
        "/static/css/missing.css",
        "/static/css",  # a directory
        "/static/%2e%2e/pages.py",  # shared/web/pages.py, out of the static folder
        "/static/css/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/static/..%2f..%2fpages.py",
        "/static/css/app.css%00.png",
    ],
)
def test_static_refuses_what_is_no_static_file(client, path):
    """The generic 404 (JSON for an API client, the page for a browser), never the file."""
    response = fetch(client, path)
    assert response.status_code == 404
    assert response.get_json()["code"] == "NOT_FOUND"
    page = fetch(client, path, **{"Accept": "text/html"})
    assert page.status_code == 404 and is_html(page)
    assert page.headers["Vary"] == "Accept"


def test_static_inner_dot_segments_stay_in_the_folder(client):
    response = fetch(client, "/static/css/%2e%2e/js/app.js")
    assert response.status_code == 200
    assert response.get_data() == (STATIC / "js/app.js").read_bytes()


def test_pages_link_their_assets(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/static/css/app.css"' in html and 'src="/static/js/app.js"' in html


def test_an_artist_page_shows_only_an_uploaded_image(client, login, db_session):
    """GET /api/artists/<id>/thumbnail serves an uploaded image only: an artist with just
    the provider's image URL gets no <img> (it would be a broken image, a failed request)."""
    login("readonly")
    artist = add_artist(db_session, thumbnail_url="https://img.example/a.jpg")
    assert 'class="artist-thumb"' not in client.get(f"/artists/{artist.id}").get_data(as_text=True)
    artist.thumbnail_path = f"thumbnails/artists/{artist.id}.jpg"
    db_session.commit()
    page = client.get(f"/artists/{artist.id}").get_data(as_text=True)
    assert f'class="artist-thumb" src="/api/artists/{artist.id}/thumbnail"' in page
