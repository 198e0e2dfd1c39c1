"""Every page in a real browser, its routes owned by flask and then by fastapi (where FastAPI
has them): logged in through the form, each page shows what its template says, styled, and
the document comes from the side the manifest names. Screenshots: test-output/browser/."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, Response

from gateway import manifest as mf
from shared.demo import ADMIN_USERNAME
from shared.fakes.metadata_provider import build_catalogue
from tests.browser.harness import (
    PageServer,
    PageWatch,
    assert_styled,
    login,
    screenshot,
    served_by,
)

CATALOGUE = build_catalogue()
# What `figway seed-demo` put in the library: the provider's demo artists, the first video
# of each with a file, and one public playlist of those files.
ARTISTS = CATALOGUE.demo_artists()
VIDEOS = [CATALOGUE.videos[v] for a in ARTISTS for v in a.video_ids]
WITH_FILES = [CATALOGUE.videos[a.video_ids[0]].title for a in ARTISTS]


def check_document(
    page: Page, response: Response | None, server: PageServer, route: str, title: str
) -> None:
    """The page answered 200 from the side the manifest gives `route`, titled `title`,
    with its stylesheet applied."""
    assert response is not None and response.status == 200, response
    assert served_by(response) == server.expected_owner(route), (route, server.owners)
    assert page.title() == f"{title} · figway"
    assert_styled(page)


def heading(page: Page) -> str:
    return page.locator("main h1").inner_text()


def test_the_login_form_leads_to_the_dashboard(page: Page, server: PageServer) -> None:
    def on_form(form: Page) -> None:
        assert heading(form) == "Log in"
        assert form.locator("header nav").count() == 0  # nobody logged in: no navigation
        assert_styled(form)
        screenshot(form, server.owner, "login")

    with page.expect_response(lambda r: r.url.endswith("/static/css/app.css")) as css:
        form = page.goto("/")  # not logged in: redirected to the form
    assert urlsplit(page.url).path == "/login"
    check_document(page, form, server, "GET /login", "Log in")
    assert css.value.status == 200
    assert served_by(css.value) == server.expected_owner("GET /static/<path:filename>")

    landed = login(page, on_form=on_form)
    check_document(page, landed, server, "GET /", "Dashboard")
    assert heading(page) == "Dashboard"
    counts = {
        what: page.locator(f'.cards [data-count="{what}"]').inner_text()
        for what in ("artists", "videos", "playlists")
    }
    assert counts == {"artists": str(len(ARTISTS)), "videos": str(len(VIDEOS)), "playlists": "1"}
    recent = page.locator("section.panel", has_text="Recently added").locator("li")
    assert recent.count() == len(VIDEOS)
    assert page.locator('nav a[aria-current="page"]').inner_text() == "Dashboard"
    screenshot(page, server.owner, "dashboard")


def test_artists_and_one_artist(page: Page, server: PageServer) -> None:
    login(page)
    response = page.goto("/artists")
    check_document(page, response, server, "GET /artists", "Artists")
    assert heading(page) == f"Artists {len(ARTISTS)}"
    names = page.locator("main table tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == sorted(a.name for a in ARTISTS)
    screenshot(page, server.owner, "artists")

    artist = ARTISTS[1]  # Björk: a name a template must escape and encode right
    with page.expect_navigation() as opened:
        page.get_by_role("link", name=artist.name, exact=True).click()
    check_document(page, opened.value, server, "GET /artists/<int:artist_id>", artist.name)
    assert heading(page) == artist.name
    titles = page.locator("main table tbody tr td:first-child").all_inner_texts()
    assert sorted(titles) == sorted(CATALOGUE.videos[v].title for v in artist.video_ids)
    assert page.locator("dl.facts").inner_text().count(", ".join(artist.genres)) == 1
    screenshot(page, server.owner, "artist")


def test_videos_and_one_video_that_plays(page: Page, server: PageServer) -> None:
    login(page)
    response = page.goto("/videos")
    check_document(page, response, server, "GET /videos", "Videos")
    assert heading(page) == f"Videos {len(VIDEOS)}"
    titles = page.locator("main table tbody tr td:first-child").all_inner_texts()
    assert sorted(titles) == sorted(v.title for v in VIDEOS)
    screenshot(page, server.owner, "videos")

    title = WITH_FILES[0]
    with page.expect_navigation() as opened:
        page.get_by_role("link", name=title, exact=True).click()
    check_document(page, opened.value, server, "GET /videos/<int:video_id>", title)
    assert heading(page) == title
    # The player loads the file: the stream answers, and Chromium can read what it gets.
    player = page.locator("div.player video")
    page.wait_for_function("v => v.readyState >= 1 && v.duration > 0", arg=player.element_handle())
    assert page.locator("dl.facts").get_by_text("downloaded").count() == 1
    screenshot(page, server.owner, "video")


def test_playlists(page: Page, server: PageServer) -> None:
    login(page)
    response = page.goto("/playlists")
    check_document(page, response, server, "GET /playlists", "Playlists")
    assert heading(page) == "Playlists 1"
    playlist = page.locator("ul.playlists > li")
    assert playlist.count() == 1
    summary = playlist.locator("summary")
    assert "Demo favourites" in summary.inner_text() and "3 videos" in summary.inner_text()
    summary.click()  # opens the <details>: its entries, in playlist order
    entries = playlist.locator("ol > li a")
    entries.first.wait_for(state="visible")
    assert entries.all_inner_texts() == WITH_FILES
    screenshot(page, server.owner, "playlists")


def test_settings_as_admin(page: Page, server: PageServer) -> None:
    login(page)
    # Only an admin's top bar has the Settings link; a person gets there through it.
    with page.expect_navigation() as opened:
        page.locator("header nav").get_by_role("link", name="Settings").click()
    check_document(page, opened.value, server, "GET /settings", "Settings")
    assert heading(page) == "Settings"
    assert page.locator("header .role").inner_text() == "admin"
    assert page.locator("header .username").inner_text() == ADMIN_USERNAME
    assert page.locator("main").get_by_text("No settings stored.").count() == 1

    # Two settings stored from this page's own origin, as its scripts would (a same-origin
    # fetch with the session cookie); a secret's value never reaches the page.
    for key, value, description in SETTINGS:
        status = page.evaluate(
            """async ([key, body]) => (await fetch("/api/settings/" + key, {
                method: "PUT",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify(body),
            })).status""",
            [key, {"value": value, "description": description}],
        )
        assert status == 201, (key, status)
    response = page.reload()
    check_document(page, response, server, "GET /settings", "Settings")
    rows = [
        row.locator("td").all_inner_texts() for row in page.locator("main table tbody tr").all()
    ]
    # Each row ends with its Edit button (settings.js; tests/browser/test_actions.py).
    assert rows == [
        ["downloads.quality", "1080p", "Preferred download quality", "Edit"],
        ["provider_api_key", "********", "Metadata provider key", "Edit"],
    ]
    assert "do-not-show-me" not in page.content()
    screenshot(page, server.owner, "settings")


SETTINGS = [
    ("provider_api_key", "do-not-show-me", "Metadata provider key"),
    ("downloads.quality", "1080p", "Preferred download quality"),
]


def test_an_unknown_address_shows_the_404_page(
    page: Page, server: PageServer, watch: PageWatch
) -> None:
    """A browser's navigation to an address no route takes gets the error page, styled and
    with the way home; an API client would still get the JSON 404 (tests/test_errors.py)."""
    watch.expect_status(404, "/no-such-page")
    response = page.goto("/no-such-page")
    assert response is not None and response.status == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    # No route matches, so no manifest owner: the gateway gives such paths to flask while
    # any route is on flask, else to fastapi (Flask is then not even loaded).
    manifest = mf.load(Path(server.env["FIGWAY_MANIFEST"]))
    needs_legacy = any(entry.owner == "flask" for entry in manifest.entries)
    assert served_by(response) == ("flask" if needs_legacy else "fastapi")
    assert page.title() == "404 · figway"
    assert heading(page) == "404"
    assert page.locator("main p").first.inner_text() == "There is no page at this address."
    assert page.locator("header nav").count() == 0
    assert_styled(page)
    screenshot(page, server.owner, "not-found")
    with page.expect_navigation():
        page.get_by_role("link", name="Back to the dashboard").click()
    assert urlsplit(page.url).path == "/login"  # home, which asks a stranger to log in
