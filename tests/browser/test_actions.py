"""The pages' actions in a real browser, their routes owned by flask and then by fastapi
(where FastAPI has them): each action is clicked as a person would, then checked twice, on
the page and through the JSON API. Errors the API answers are shown to the user; controls
are shown only to the roles that may use them. Screenshots: test-output/browser/<owner>/."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import APIRequestContext, Locator, Page, expect

from shared.fakes.metadata_provider import EMPTY_ARTIST_NAME, build_catalogue
from tests.browser.harness import OWNERS, PageServer, PageWatch, login, screenshot, serve_pages
from tests.provider import provider_url

provider = provider_url
CATALOGUE = build_catalogue()
ARTISTS = CATALOGUE.demo_artists()
VIDEOS = [CATALOGUE.videos[v] for a in ARTISTS for v in a.video_ids]
PASSWORD = "browser-user-password-0123"
_names = count(1)


@pytest.fixture(scope="module")
def page_servers(
    seeded_var: Path,
    twins: frozenset[str],
    provider: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, PageServer]]:
    """This module's servers, one per owner started side by side, asking the local fake
    provider for metadata (the import action)."""
    with ExitStack() as stack, ThreadPoolExecutor(len(OWNERS)) as pool:
        starting = {
            owner: pool.submit(
                stack.enter_context,
                serve_pages(
                    tmp_path_factory.mktemp(f"actions-{owner}"),
                    owner,
                    seeded_var,
                    twins,
                    METADATA_BASE_URL=provider,
                ),
            )
            for owner in OWNERS
        }
        yield {owner: future.result() for owner, future in starting.items()}


# --- helpers ------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    """A name no other test of this module's server uses."""
    return f"{prefix} {next(_names)}"


def api(request: APIRequestContext, method: str, path: str, **body: Any) -> Any:
    """One call of the JSON API with the page's session cookie; asserts a 2xx answer."""
    answer = request.fetch(path, method=method, data=body if body else None)
    assert answer.ok, (method, path, answer.status, answer.text())
    return answer.json()


def video_ids(request: APIRequestContext) -> dict[str, int]:
    return {v["title"]: v["id"] for v in api(request, "GET", "/api/videos")["videos"]}


def new_playlist(request: APIRequestContext, titles: list[str]) -> dict[str, Any]:
    """A playlist of the logged-in user's with these videos, made through the API."""
    playlist: dict[str, Any] = api(request, "POST", "/api/playlists", name=unique("Mix"))
    ids = video_ids(request)
    for title in titles:
        api(request, "POST", f"/api/playlists/{playlist['id']}/videos", video_id=ids[title])
    return playlist


def entry_titles(request: APIRequestContext, playlist_id: int) -> list[str]:
    entries = api(request, "GET", f"/api/playlists/{playlist_id}")["entries"]
    return [e["title"] for e in entries]


def make_user(request: APIRequestContext, role: str) -> str:
    username = f"{role}{next(_names)}"
    api(request, "POST", "/api/users", username=username, password=PASSWORD, role=role)
    return username


def status_of(page: Page, scope: str) -> Any:
    return page.locator(scope).locator("[data-status]").first


def note_when_disabled(button: Locator) -> None:
    """From now on the button remembers being disabled (as while its request runs)."""
    button.evaluate(
        """b => new MutationObserver(() => { if (b.disabled) b.sawDisabled = true; })
            .observe(b, {attributes: true, attributeFilter: ["disabled"]})"""
    )


def was_disabled(button: Locator) -> bool:
    return bool(button.evaluate("b => b.sawDisabled === true"))


def png(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, format="PNG")
    return out.getvalue()


# --- playlists ----------------------------------------------------------------------------


def test_create_a_playlist(page: Page, server: PageServer) -> None:
    login(page)
    page.goto("/playlists")
    name = unique("Road trip")
    page.get_by_text("New playlist").click()
    form = page.locator("form[data-playlist-create]")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Description").fill("Songs for the car")
    form.get_by_label("Public").check()
    with page.expect_navigation():  # the list is reloaded, the new one in its place
        form.get_by_role("button", name="Create playlist").click()

    panel = page.locator("[data-playlist]", has_text=name)
    expect(panel.locator("summary")).to_contain_text("0 videos")
    expect(panel.locator("summary")).to_contain_text("public")
    listed = {p["name"]: p for p in api(page.request, "GET", "/api/playlists")["playlists"]}
    assert listed[name]["description"] == "Songs for the car"
    assert listed[name]["is_public"] is True
    screenshot(page, server.owner, "action-playlist-created")


def test_add_a_video_to_a_playlist(page: Page, server: PageServer, watch: PageWatch) -> None:
    login(page)
    playlist = new_playlist(page.request, [])
    video = VIDEOS[0].title
    page.goto(f"/videos/{video_ids(page.request)[video]}")
    box = page.locator("[data-add-to-playlist]")
    box.get_by_label("Playlist").select_option(label=playlist["name"])
    add = box.get_by_role("button", name="Add")
    note_when_disabled(add)
    add.click()
    expect(status_of(page, "[data-add-to-playlist]")).to_have_text(f"Added to {playlist['name']}.")
    assert was_disabled(add)  # while the request ran: no double adds
    expect(add).to_be_enabled()
    assert entry_titles(page.request, playlist["id"]) == [video]

    # Twice: the API's conflict, in its words, and the button usable again.
    watch.expect_status(409, f"/api/playlists/{playlist['id']}/videos")
    box.get_by_role("button", name="Add").click()
    expect(status_of(page, "[data-add-to-playlist]")).to_have_text(
        "The video is already in this playlist"
    )
    expect(box.get_by_role("button", name="Add")).to_be_enabled()
    screenshot(page, server.owner, "action-added-to-playlist")


def test_reorder_remove_rename_and_delete(page: Page, server: PageServer) -> None:
    login(page)
    titles = [v.title for v in VIDEOS[:3]]
    playlist = new_playlist(page.request, titles)
    page.goto("/playlists")
    panel = page.locator(f'[data-playlist="{playlist["id"]}"]')
    panel.locator("summary").click()
    shown = panel.locator("[data-entries] li a")
    expect(shown).to_have_text(titles)

    panel.get_by_role("button", name=f"Move {titles[0]} down").click()
    expected = [titles[1], titles[0], titles[2]]
    expect(shown).to_have_text(expected)
    assert entry_titles(page.request, playlist["id"]) == expected
    panel.get_by_role("button", name=f"Move {titles[2]} up").click()
    expected = [titles[1], titles[2], titles[0]]
    expect(shown).to_have_text(expected)
    assert entry_titles(page.request, playlist["id"]) == expected
    screenshot(page, server.owner, "action-playlist-reordered")

    panel.get_by_role("button", name=f"Remove {titles[2]}").click()
    expected = [titles[1], titles[0]]
    expect(shown).to_have_text(expected)
    expect(panel.locator("[data-video-count]")).to_have_text("2 videos")
    assert entry_titles(page.request, playlist["id"]) == expected

    renamed = unique("Renamed mix")
    panel.locator("form[data-playlist-rename]").get_by_label("Name").fill(renamed)
    panel.get_by_role("button", name="Rename").click()
    expect(panel.locator("[data-playlist-name]")).to_have_text(renamed)
    assert api(page.request, "GET", f"/api/playlists/{playlist['id']}")["name"] == renamed
    screenshot(page, server.owner, "action-playlist-renamed")

    before = int(page.locator("[data-playlists-count]").inner_text())
    page.once("dialog", lambda dialog: dialog.dismiss())  # a change of mind keeps it
    panel.get_by_role("button", name="Delete playlist").click()
    expect(panel).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Delete playlist").click()
    expect(panel).to_have_count(0)
    expect(page.locator("[data-playlists-count]")).to_have_text(str(before - 1))
    listed = api(page.request, "GET", "/api/playlists")["playlists"]
    assert playlist["id"] not in [p["id"] for p in listed]
    screenshot(page, server.owner, "action-playlist-deleted")


# --- settings -----------------------------------------------------------------------------


def test_add_and_edit_settings(page: Page, server: PageServer, watch: PageWatch) -> None:
    login(page)
    page.goto("/settings")
    page.get_by_text("Add a setting").click()
    form = page.locator("form[data-setting-add]")

    # The server's validation, in its words: a key of the wrong shape.
    watch.expect_status(400, "/api/settings/bad%20key!")  # as the URL carries it
    form.get_by_label("Key").fill("bad key!")
    form.get_by_label("Value").fill("x")
    form.get_by_role("button", name="Save setting").click()
    expect(form.locator("[data-status]")).to_contain_text("Invalid setting key")
    expect(form.locator("[data-status]")).to_have_class("muted error")

    key = f"ui.page_size_{next(_names)}"
    form.get_by_label("Key").fill(key)
    form.get_by_label("Type").select_option("number")
    form.get_by_label("Value").fill("25")
    form.get_by_label("Description").fill("Rows per page")
    with page.expect_navigation():
        form.get_by_role("button", name="Save setting").click()
    row = page.locator(f'[data-setting="{key}"]')
    expect(row.locator("td").nth(1)).to_have_text("25")
    assert api(page.request, "GET", f"/api/settings/{key}")["value"] == 25

    row.get_by_role("button", name=f"Edit {key}").click()
    value = row.get_by_label(f"Value of {key}")
    expect(value).to_have_value("25")
    value.fill("many")  # not a number: refused before it is sent
    row.get_by_role("button", name="Save").click()
    expect(row.locator("[data-status]")).to_have_text("Value: “many” is not a number.")
    screenshot(page, server.owner, "action-setting-invalid")
    value.fill("50")
    with page.expect_navigation():
        row.get_by_role("button", name="Save").click()
    expect(page.locator(f'[data-setting="{key}"] td').nth(1)).to_have_text("50")
    stored = api(page.request, "GET", f"/api/settings/{key}")
    assert stored == {"key": key, "value": 50, "description": "Rows per page"}
    screenshot(page, server.owner, "action-setting-edited")

    # A secret is replaced unseen: its value is never fetched into the page, nor shown.
    secret = f"ui.webhook_{next(_names)}_token"
    api(page.request, "PUT", f"/api/settings/{secret}", value="old-secret-value")
    page.reload()
    row = page.locator(f'[data-setting="{secret}"]')
    expect(row.locator("td").nth(1)).to_have_text("********")
    row.get_by_role("button", name=f"Edit {secret}").click()
    value = row.get_by_label(f"Value of {secret}")
    expect(value).to_have_value("")
    expect(value).to_have_attribute("type", "password")
    value.fill("new-secret-value")
    with page.expect_navigation():
        row.get_by_role("button", name="Save").click()
    expect(page.locator(f'[data-setting="{secret}"] td').nth(1)).to_have_text("********")
    assert "secret-value" not in page.content()
    assert api(page.request, "GET", f"/api/settings/{secret}")["value"] == "new-secret-value"


# --- videos -------------------------------------------------------------------------------


def test_edit_a_video(page: Page, server: PageServer, watch: PageWatch) -> None:
    login(page)
    video_id = video_ids(page.request)[VIDEOS[1].title]
    page.goto(f"/videos/{video_id}")
    form = page.locator(f'form[data-video-edit="{video_id}"]')
    expect(form.get_by_label("Title")).to_have_value(VIDEOS[1].title)  # from the API

    watch.expect_status(400, f"/api/videos/{video_id}")
    form.get_by_label("Year").fill("1800")
    form.get_by_role("button", name="Save").click()
    expect(form.locator("[data-status]")).to_contain_text("year")
    expect(form.get_by_role("button", name="Save")).to_be_enabled()

    title = unique("Edited title")
    form.get_by_label("Title").fill(title)
    form.get_by_label("Year").fill("2001")
    form.get_by_label("Status").select_option("ignored")
    with page.expect_navigation():
        form.get_by_role("button", name="Save").click()
    expect(page.locator("main h1")).to_have_text(title)
    expect(page.locator("dl.facts")).to_contain_text("2001")
    expect(page.locator("dl.facts")).to_contain_text("ignored")
    video = api(page.request, "GET", f"/api/videos/{video_id}")
    assert (video["title"], video["year"], video["status"]) == (title, 2001, "ignored")
    screenshot(page, server.owner, "action-video-edited")


def test_create_a_video(page: Page, server: PageServer) -> None:
    login(page)
    page.goto("/videos")
    page.get_by_text("New video").click()
    form = page.locator("form[data-video-create]")
    artist = ARTISTS[2].name
    form.get_by_label("Artist").select_option(label=artist)
    title = unique("Brand new video")
    form.get_by_label("Title").fill(title)
    form.get_by_label("Source URL").fill("https://videos.example/new.mp4")
    form.get_by_label("Year").fill("2024")
    with page.expect_navigation(url="**/videos/*"):
        form.get_by_role("button", name="Create video").click()
    expect(page.locator("main h1")).to_have_text(title)
    video_id = int(page.url.rsplit("/", 1)[1])
    video = api(page.request, "GET", f"/api/videos/{video_id}")
    assert (video["artist_name"], video["year"], video["status"]) == (artist, 2024, "wanted")
    assert video["url"] == "https://videos.example/new.mp4"
    screenshot(page, server.owner, "action-video-created")


# --- artists ------------------------------------------------------------------------------


def test_import_an_artist(page: Page, server: PageServer, watch: PageWatch) -> None:
    login(page)
    page.goto("/artists")
    page.get_by_text("Import an artist").click()
    form = page.locator("form[data-artist-import]")

    watch.expect_status(404, "/api/artists/import-from-imvdb")
    form.get_by_label("Name at the metadata provider").fill("Nobody At All Zzz")
    note_when_disabled(form.get_by_role("button", name="Import"))
    form.get_by_role("button", name="Import").click()
    expect(form.locator("[data-status]")).to_have_text(
        "No artist named 'Nobody At All Zzz' at the metadata provider"
    )
    assert was_disabled(form.get_by_role("button", name="Import"))
    expect(form.get_by_role("button", name="Import")).to_be_enabled()

    # The new artist has only the provider's image URL: its page shows no image (none was
    # uploaded), so no request fails there.
    form.get_by_label("Name at the metadata provider").fill(EMPTY_ARTIST_NAME)
    with page.expect_navigation(url="**/artists/*"):
        form.get_by_role("button", name="Import").click()
    expect(page.locator("main h1")).to_have_text(EMPTY_ARTIST_NAME)
    names = [a["name"] for a in api(page.request, "GET", "/api/artists")["artists"]]
    assert EMPTY_ARTIST_NAME in names
    screenshot(page, server.owner, "action-artist-imported")


def test_upload_an_artist_image(page: Page, server: PageServer, watch: PageWatch) -> None:
    login(page)
    artist = api(page.request, "GET", "/api/artists")["artists"][0]
    page.goto(f"/artists/{artist['id']}")
    form = page.locator("form[data-artist-thumbnail]")
    path = f"/api/artists/{artist['id']}/thumbnail"

    watch.expect_status(400, path)
    form.get_by_label("Image").set_input_files(
        {"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image"}
    )
    form.get_by_role("button", name="Upload image").click()
    expect(form.locator("[data-status]")).to_have_class("muted small error")
    expect(form.locator("[data-status]")).to_have_text(re.compile(r"\w"))  # the server's reason

    form.get_by_label("Image").set_input_files(
        {"name": "red.png", "mimeType": "image/png", "buffer": png("red")}
    )
    form.get_by_role("button", name="Upload image").click()
    expect(form.locator("[data-status]")).to_have_text("Uploaded.")
    image = page.locator("img.artist-thumb")
    expect(image).to_have_attribute("src", re.compile(rf"^{re.escape(path)}\?v=\d+$"))
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    # The new image is the one shown: red, as uploaded (re-encoded as a JPEG by the server).
    pixel = page.evaluate(
        """img => { const c = document.createElement("canvas"); c.width = c.height = 1;
            const g = c.getContext("2d"); g.drawImage(img, 0, 0, 1, 1);
            return Array.from(g.getImageData(0, 0, 1, 1).data.slice(0, 3)); }""",
        image.element_handle(),
    )
    assert pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60, pixel
    served = page.request.get(path)
    assert served.ok and served.headers["content-type"] == "image/jpeg", served
    screenshot(page, server.owner, "action-artist-image")


# --- who sees what ------------------------------------------------------------------------


def test_controls_follow_the_role(page: Page, server: PageServer) -> None:
    login(page)
    users = {role: make_user(page.request, role) for role in ("readonly", "user")}
    playlist = new_playlist(page.request, [VIDEOS[0].title])
    api(page.request, "PUT", f"/api/playlists/{playlist['id']}", is_public=True)
    video_id = video_ids(page.request)[VIDEOS[0].title]
    page.context.clear_cookies()

    login(page, username=users["readonly"], password=PASSWORD)
    page.goto("/playlists")
    assert page.locator("form[data-playlist-create]").count() == 0
    assert page.locator("[data-playlist-tools]").count() == 0
    page.goto(f"/videos/{video_id}")
    assert page.locator("[data-add-to-playlist], form[data-video-edit]").count() == 0
    page.goto("/artists")
    assert page.locator("form[data-artist-import]").count() == 0
    screenshot(page, server.owner, "action-readonly-artists")
    page.context.clear_cookies()

    # A user: makes playlists and changes their own, never the admin's, edits no video.
    login(page, username=users["user"], password=PASSWORD)
    page.goto("/playlists")
    expect(page.locator("form[data-playlist-create]")).to_have_count(1)
    theirs = page.locator(f'[data-playlist="{playlist["id"]}"]')
    theirs.locator("summary").click()
    expect(theirs.locator("[data-entries] li a")).to_have_text([VIDEOS[0].title])
    expect(theirs.locator("[data-playlist-tools]")).to_be_hidden()
    assert theirs.locator("[data-entry-move], [data-entry-remove]").count() == 0
    page.goto(f"/videos/{video_id}")
    expect(page.locator("[data-add-to-playlist]")).to_contain_text("You have no playlists yet")
    assert page.locator("form[data-video-edit]").count() == 0
    page.goto("/videos")
    assert page.locator("form[data-video-create]").count() == 0
    screenshot(page, server.owner, "action-user-video")
