"""A video's page follows its download live over Socket.IO, in real Chromium with the real
Socket.IO client, while /socket.io/ is flipped from flask to fastapi and back: each flip
drains, the gateway ends the old side's session, the client reconnects to the new owner by
itself and watches again, and the user sees the progress reach 100% with no error."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, WebSocket

from gateway import manifest as mf
from tests import media_fixtures
from tests.browser.harness import PageServer, login, screenshot, serve_pages
from tests.media_fixtures import MediaServer

media_server = media_fixtures.media_server
sample_video = media_fixtures.sample_video

CHANNEL = "SOCKETIO /socket.io/"
DRAIN_S = 1.0
DOWNLOAD_S = 10.0  # long enough for two flips, each with its drain and reconnect


@pytest.fixture(scope="module")
def server(
    page_owner: str,
    seeded_var: Path,
    twins: frozenset[str],
    media_server: MediaServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PageServer]:
    """This module's own server: downloads may fetch from the media server, and a flipped
    channel drains in a second."""
    with serve_pages(
        tmp_path_factory.mktemp(f"live-{page_owner}"),
        page_owner,
        seeded_var,
        twins,
        FIGWAY_CHANNEL_DRAIN=str(DRAIN_S),
        FIGWAY_DOWNLOAD_ALLOW_HOSTS=media_server.base_url.removeprefix("http://"),
    ) as served:
        yield served


def own_channel(server: PageServer, owner: str) -> None:
    manifest = Path(server.env["FIGWAY_MANIFEST"])
    with mf.locked(manifest):
        mf.set_owners(manifest, {CHANNEL: owner})


def test_progress_reaches_100_percent_across_two_flips(
    page: Page, server: PageServer, watch, media_server: MediaServer
):
    # The gateway ends each drained session with 400, as an unknown session is answered.
    watch.expect_status(400, "/socket.io/")
    sides: list[str] = []  # who answered each Socket.IO poll, in order
    sockets: list[WebSocket] = []

    def on_response(response: Response) -> None:
        if "/socket.io/" in response.url and response.status == 200:
            sides.append(response.headers.get("x-served-by", "?"))

    page.on("response", on_response)
    page.on("websocket", lambda ws: sockets.append(ws))
    own_channel(server, "flask")
    login(page)
    artist = page.request.get("/api/artists").json()["artists"][0]["id"]
    made = page.request.post(
        "/api/videos",
        data={
            "artist_id": artist,
            "title": "Live progress",
            "url": media_server.paced_url(DOWNLOAD_S, "live-progress.mp4"),
        },
    )
    assert made.status == 201, made.text()
    page.goto(f"/videos/{made.json()['id']}")
    status = page.locator("[data-download-status]")
    bar = page.locator("[data-download-bar]")

    page.get_by_role("button", name="Download").click()
    page.wait_for_function(
        "() => document.querySelector('[data-download-status]').textContent"
        ".startsWith('Downloading')"
    )
    assert sides and set(sides) == {"flask"}, sides

    def flip_and_follow(owner: str) -> None:
        seen = len(sides)
        before = int(bar.get_attribute("value") or 0)
        own_channel(server, owner)
        # A poll (or a socket) of the new owner's, then progress shown after it.
        deadline = time.monotonic() + 20
        while owner not in sides[seen:]:
            assert time.monotonic() < deadline, (owner, sides)
            page.wait_for_timeout(100)
        page.wait_for_function(
            f"() => Number(document.querySelector('[data-download-bar]').value) > {before}",
            timeout=20_000,
        )

    flip_and_follow("fastapi")
    screenshot(page, server.owner, "video-live-progress")
    flip_and_follow("flask")

    page.wait_for_function(
        "() => document.querySelector('[data-download-status]').textContent"
        " === 'Downloaded (100%).'",
        timeout=60_000,
    )
    assert bar.get_attribute("value") == "100"
    # The user saw progress only: never an error in the status line.
    assert status.inner_text() == "Downloaded (100%)."
    # FastAPI's side took the session over its WebSocket (the WSGI side offers none).
    assert [ws.url.split("?")[0].endswith("/socket.io/") for ws in sockets] == [True], sockets
    assert sides[-1] == "flask", sides
    screenshot(page, server.owner, "video-downloaded")
