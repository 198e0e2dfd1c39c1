"""The pages only the FastAPI side has, in a real browser behind a real `figway serve` whose
manifest gives every page route to flask: each new page comes from fastapi all the same,
styled, and one action on each works (search, rename and reorder a playlist and remove an
entry, cancel a download followed live and remove it, create a user). No console errors.
Screenshots: test-output/browser/new-pages/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, expect

from shared.fakes.metadata_provider import build_catalogue
from tests import media_fixtures
from tests.browser.harness import (
    PageServer,
    assert_styled,
    login,
    screenshot,
    serve_pages,
    served_by,
)
from tests.media_fixtures import MediaServer
from tests.provider import provider_url

media_server = media_fixtures.media_server
sample_video = media_fixtures.sample_video
provider = provider_url

SHOTS = "new-pages"
CATALOGUE = build_catalogue()
ARTIST = CATALOGUE.demo_artists()[0]  # seeded by `figway seed-demo`
# One the provider knows and the library does not: an import's to add.
NEWCOMER = next(a for a in CATALOGUE.artists.values() if a.id not in CATALOGUE.demo_artist_ids)
DOWNLOAD_S = 30.0  # a download that runs long enough to be seen running, then cancelled


@pytest.fixture(scope="module")
def server(
    seeded_var: Path,
    twins: frozenset[str],
    media_server: MediaServer,
    provider: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PageServer]:
    """One server, the legacy pages owned by flask (the new pages are not in the manifest:
    the gateway sends them to fastapi anyway); downloads may fetch from the media server,
    the metadata provider is the fake one."""
    with serve_pages(
        tmp_path_factory.mktemp("new-pages"),
        "flask",
        seeded_var,
        twins,
        FIGWAY_DOWNLOAD_ALLOW_HOSTS=media_server.base_url.removeprefix("http://"),
        METADATA_BASE_URL=provider,
    ) as served:
        yield served


def check_page(page: Page, response: Response | None, title: str) -> None:
    assert response is not None and response.status == 200, response
    assert served_by(response) == "fastapi"
    assert page.title() == f"{title} · figway"
    assert_styled(page)


def test_search_finds_the_library_s_matches_and_imports_from_the_provider(page: Page) -> None:
    login(page)
    with page.expect_navigation() as opened:
        page.locator("header nav").get_by_role("link", name="Search").click()
    check_page(page, opened.value, "Search")
    page.get_by_label("Words in a title or an artist's name").fill(ARTIST.name)
    with page.expect_navigation() as searched:
        page.get_by_role("button", name="Search the library").click()
    check_page(page, searched.value, "Search")
    artists = page.locator('[data-results="artists"]')
    expect(artists.get_by_role("link", name=ARTIST.name)).to_be_visible()
    expect(page.locator('[data-results="videos"] li')).to_have_count(len(ARTIST.video_ids))

    # The provider, asked on demand; a manager (the admin here) imports what it found.
    page.get_by_label("Artist name").fill(NEWCOMER.name)
    page.get_by_role("button", name="Search the provider").click()
    page.get_by_role("button", name=f"Import {NEWCOMER.name}", exact=True).click()
    imported = page.get_by_role("link", name=f"Imported: {NEWCOMER.name}", exact=True)
    expect(imported).to_be_visible()
    screenshot(page, SHOTS, "search")
    found = page.request.get(f"/api/artists?search={NEWCOMER.name}").json()["artists"]
    assert [a["imvdb_id"] for a in found if a["name"] == NEWCOMER.name] == [NEWCOMER.id]


def test_the_owner_renames_reorders_and_trims_a_playlist(page: Page) -> None:
    login(page)
    playlist = page.request.get("/api/playlists").json()["playlists"][0]
    # From the list of playlists (a legacy page, flask's here) to the new page of one.
    listed = page.goto("/playlists")
    assert served_by(listed) == "flask"
    page.locator("ul.playlists summary").first.click()
    with page.expect_navigation() as opened:
        page.get_by_role("link", name="Open the playlist").click()
    check_page(page, opened.value, playlist["name"])
    assert page.url.endswith(f"/playlists/{playlist['id']}")
    entries = page.locator("ol.entries > li")
    titles = entries.locator(".entry-title a").all_inner_texts()
    assert len(titles) >= 3, titles

    page.get_by_label("Name", exact=True).fill("Renamed in the browser")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("h1")).to_have_text("Renamed in the browser")

    page.get_by_role("button", name=f"Move {titles[0]} down").click()
    expect(page.locator("[data-playlist-status]")).to_have_text("Moved.")
    moved = [titles[1], titles[0], *titles[2:]]
    expect(entries.locator(".entry-title a")).to_have_text(moved)

    page.get_by_role("button", name=f"Remove {titles[-1]}").click()
    expect(entries).to_have_count(len(titles) - 1)
    screenshot(page, SHOTS, "playlist")

    # What the page showed is what the server holds, after a reload too.
    stored = page.request.get(f"/api/playlists/{playlist['id']}").json()
    assert stored["name"] == "Renamed in the browser"
    assert [e["title"] for e in stored["entries"]] == moved[:-1]
    page.reload()
    expect(entries.locator(".entry-title a")).to_have_text(moved[:-1])


def test_a_download_runs_live_is_cancelled_then_removed(
    page: Page, media_server: MediaServer
) -> None:
    login(page)
    artist = page.request.get("/api/artists").json()["artists"][0]["id"]
    made = page.request.post(
        "/api/videos",
        data={"artist_id": artist, "title": "Slow one", "url": media_server.paced_url(DOWNLOAD_S)},
    )
    assert made.status == 201, made.text()
    queued = page.request.post(f"/api/videos/{made.json()['id']}/download")
    assert queued.status == 202, queued.text()
    download = queued.json()["download_id"]

    check_page(page, page.goto("/downloads"), "Downloads")
    row = page.locator(f'[data-download-row="{download}"]')
    # Followed live: the status turns to running and the progress moves past 0 on its own.
    expect(row.locator(".badge")).to_have_text("running", timeout=15_000)
    page.wait_for_function(
        f"() => document.querySelector('[data-download-row=\"{download}\"] progress').value > 0",
        timeout=15_000,
    )
    screenshot(page, SHOTS, "downloads-running")

    row.get_by_role("button", name="Cancel").click()
    expect(row.locator(".badge")).to_have_text("cancelled")
    expect(row.get_by_role("button", name="Cancel")).to_be_hidden()
    row.get_by_role("button", name="Remove").click()
    expect(row).to_have_count(0)
    expect(page.locator("[data-downloads-status]")).to_have_text(f"Download #{download} removed.")
    left = page.request.get("/api/downloads").json()["downloads"]
    assert download not in [d["id"] for d in left]


def test_an_admin_creates_a_user_and_changes_their_role(page: Page) -> None:
    login(page)
    with page.expect_navigation() as opened:
        page.locator("header nav").get_by_role("link", name="Admin").click()
    check_page(page, opened.value, "Admin")
    expect(page.locator('[data-version="python"]')).not_to_be_empty()

    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Password").fill("a-long-enough-password")
    page.locator("form[data-create-user] select").select_option("manager")
    with page.expect_navigation():
        page.get_by_role("button", name="Create").click()
    row = page.locator("tr", has_text="newcomer")
    expect(row.get_by_label("Role of newcomer")).to_have_value("manager")

    row.get_by_label("Role of newcomer").select_option("readonly")
    expect(page.locator("[data-users-status]")).to_have_text("newcomer is now readonly.")
    screenshot(page, SHOTS, "admin")
    users = page.request.get("/api/users").json()["users"]
    assert {u["username"]: u["role"] for u in users}["newcomer"] == "readonly"
