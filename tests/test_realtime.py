"""The Socket.IO channel (/socket.io/, namespace /downloads) on a real `figway run` server:
both sides answer the same, and each Engine.IO session stays on the side that opened it
until a flip has drained, then the real client reconnects to the new owner by itself."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import engineio
import httpx
import pytest
import requests
import socketio

from gateway import manifest as mf
from tests import media_fixtures, workers
from tests.media_fixtures import MediaServer
from tests.polling import wait_for
from tests.servers import Server, base_env, free_port, serving
from tests.test_contract import MANIFEST

media_server = media_fixtures.media_server
sample_video = media_fixtures.sample_video

ADMIN_PASSWORD = "realtime-admin-password"
manifest_urls: dict[Path, str] = {}  # each served manifest's server
CHANNEL = "SOCKETIO /socket.io/"
DRAIN_S = 1.0
NS = "/downloads"
# Fields that name one download and its times: not the same for two downloads.
OWN_FIELDS = ("id", "video_id", "created_at", "started_at", "finished_at", "updated_at")


@contextmanager
def serve(tmp: Path, media: MediaServer, **extra: str) -> Iterator[tuple[Server, Path]]:
    """`figway run` on a copy of the committed manifest; its URL and that copy."""
    manifest = tmp / "migration_status.yaml"
    manifest.write_text(MANIFEST.read_text())
    port, provider = free_port(), free_port()
    env = base_env(
        tmp,
        FIGWAY_MANIFEST=str(manifest),
        FIGWAY_ADMIN_PASSWORD=ADMIN_PASSWORD,
        FIGWAY_CHANNEL_DRAIN=str(DRAIN_S),
        FIGWAY_DOWNLOAD_ALLOW_HOSTS=media.base_url.removeprefix("http://"),
        METADATA_BASE_URL=f"http://127.0.0.1:{provider}",
        **extra,
    )
    with serving(["run", "--port", str(port)], env, port, timeout=120) as url:
        manifest_urls[manifest] = url
        if "REDIS_URL" in extra:
            # Celery runs the downloads: a worker on the same database, queue and Redis,
            # emitting through Redis to both sides' Socket.IO servers.
            with workers.worker_in(env, tmp):
                yield url, manifest
        else:
            yield url, manifest


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, media_server: MediaServer
) -> Iterator[tuple[Server, Path]]:
    """The embedded defaults: downloads in threads of the server's process."""
    with serve(tmp_path_factory.mktemp("realtime"), media_server) as found:
        yield found


@pytest.fixture(scope="module")
def served_with_redis(
    tmp_path_factory: pytest.TempPathFactory, media_server: MediaServer, redis_url: str
) -> Iterator[tuple[Server, Path]]:
    unique = uuid.uuid4().hex[:8]
    with serve(
        tmp_path_factory.mktemp("realtime-redis"),
        media_server,
        REDIS_URL=redis_url,
        # Channels of its own: nothing else on this Redis hears (or sends) its messages.
        FIGWAY_CELERY_QUEUE=f"figway-test-{unique}",
        FIGWAY_SOCKETIO_CHANNEL=f"figway-socketio-test-{unique}",
    ) as found:
        yield found


def own(manifest: Path, owner: str) -> None:
    """Give the channel to `owner`; back once the server opens new sessions there (its
    watcher looks at the file every 0.1 s)."""
    with mf.locked(manifest):
        mf.set_owners(manifest, {CHANNEL: owner})
    url = manifest_urls[manifest]
    wait_for(lambda: handshake(url, "").headers["x-served-by"] == owner, timeout=10)


def cookie_of(url: str, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    response = httpx.post(url + "/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return "; ".join(f"{k}={v}" for k, v in response.cookies.items())


def logged_in(url: str, cookie: str) -> requests.Session:
    """A client's HTTP session holding `cookie` in its jar, as a browser would. (Given as a
    header instead, python-socketio's client drops it once it has used it for a WebSocket,
    and its reconnects would be anonymous.)"""
    session = requests.Session()
    for pair in cookie.split("; "):
        name, _, value = pair.partition("=")
        session.cookies.set(name, value, domain=urlsplit(url).hostname, path="/")
    return session


def readonly_cookie(url: str, admin: str) -> str:
    with httpx.Client(base_url=url, headers={"Cookie": admin}) as client:
        made = client.post(
            "/api/users",
            json={"username": "viewer", "password": "viewer-password-1", "role": "readonly"},
        )
        assert made.status_code in (201, 409), made.text
    return cookie_of(url, "viewer", "viewer-password-1")


def new_download(url: str, cookie: str, media: MediaServer, seconds: float) -> int:
    """A video whose file trickles in for about `seconds`, queued for download."""
    with httpx.Client(base_url=url, headers={"Cookie": cookie}, timeout=30) as client:
        artist = client.get("/api/artists").json()["artists"][0]["id"]
        name = f"clip-{time.monotonic_ns()}.mp4"
        video = client.post(
            "/api/videos",
            json={"artist_id": artist, "title": name, "url": media.paced_url(seconds, name)},
        )
        assert video.status_code == 201, video.text
        queued = client.post(f"/api/videos/{video.json()['id']}/download")
        assert queued.status_code == 202, queued.text
        download_id: int = queued.json()["download_id"]
        return download_id


class _EngineIO(engineio.Client):  # type: ignore[misc]
    """Keeps every WebSocket it opened: one the server closed stays open on this side
    (websocket-client answers the close frame but keeps its socket), to be closed at the
    end of the test rather than left to the garbage collector."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sockets: list[Any] = []

    def _connect_websocket(self, *args: Any, **kwargs: Any) -> bool:
        connected: bool = super()._connect_websocket(*args, **kwargs)
        if self.ws is not None:
            self.sockets.append(self.ws)
        return connected


class _Client(socketio.Client):  # type: ignore[misc]
    def _engineio_client_class(self) -> type[engineio.Client]:
        return _EngineIO


class Watcher:
    """The real Socket.IO client watching one download; it watches again on every
    (re)connect, as the page's script does."""

    def __init__(self, url: str, cookie: str, download_id: int, transports: list[str]) -> None:
        self.download_id = download_id
        self.events: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []
        self.connects = 0
        self.done = threading.Event()
        self.http = logged_in(url, cookie)
        self.client = _Client(
            reconnection_delay=0.2, reconnection_delay_max=0.5, http_session=self.http
        )
        self.client.on("connect", self._connected, namespace=NS)
        self.client.on("progress", self._progress, namespace=NS)
        self.client.connect(url, namespaces=[NS], transports=transports, wait_timeout=15)

    def _connected(self) -> None:
        self.connects += 1
        self.client.emit("watch", {"download": self.download_id}, namespace=NS, callback=self._ack)

    def _ack(self, answer: dict[str, Any]) -> None:
        self.acks.append(answer)
        self._seen(answer)

    def _progress(self, payload: dict[str, Any]) -> None:
        self.events.append(payload)
        self._seen(payload)

    def _seen(self, payload: dict[str, Any]) -> None:
        if payload.get("status") in ("completed", "failed", "cancelled"):
            self.done.set()

    def close(self) -> None:
        self.client.disconnect()
        self.http.close()
        for ws in self.client.eio.sockets:
            ws.shutdown()  # close() does nothing once the server has closed it


def handshake(url: str, cookie: str) -> httpx.Response:
    return httpx.get(
        url + "/socket.io/", params={"EIO": "4", "transport": "polling"}, headers={"Cookie": cookie}
    )


def opened(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200 and response.text.startswith("0"), response.text
    session: dict[str, Any] = json.loads(response.text[1:])
    return session


def shape(events: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    """What a client sees of one download, apart from its own ids and times and from how
    far each write got: the status sequence and the fields of each message."""
    seen: list[tuple[str, tuple[str, ...]]] = []
    for event in events:
        step = (event["status"], tuple(sorted(event)))
        if not seen or seen[-1] != step:
            seen.append(step)
    return seen


@pytest.mark.parametrize("owner", ["flask", "fastapi"])
def test_each_side_serves_the_handshake_and_refuses_by_the_legacy_rules(served, owner):
    url, manifest = served
    own(manifest, owner)
    admin = cookie_of(url)
    answer = handshake(url, admin)
    assert answer.headers["x-served-by"] == owner
    session = opened(answer)
    # The WSGI side cannot take a socket over: it offers no upgrade.
    assert session["upgrades"] == ([] if owner == "flask" else ["websocket"])
    assert session["pingInterval"] == 20000 and session["pingTimeout"] == 20000

    # FastAPI's side over its WebSocket: python-engineio's ASGI server leaves a client's
    # pending poll open until its timeout (40 s) when the client closes the session, and
    # this client waits for that poll before it returns from disconnect().
    transports = ["polling"] if owner == "flask" else ["websocket"]
    refusals: list[dict[str, Any]] = []
    for cookie in ("", readonly_cookie(url, admin)):
        with requests.Session() as http:
            client = socketio.Client(reconnection=False, http_session=http)
            refused: list[Any] = []
            client.on("connect_error", refused.append, namespace=NS)
            with pytest.raises(socketio.exceptions.ConnectionError):
                client.connect(
                    url, headers={"Cookie": cookie}, namespaces=[NS], transports=transports
                )
            client.disconnect()
        refusals.append(wait_for(partial(list, refused), timeout=5)[0])
    # The client's error: a message, and the legacy body as its data.
    assert [r["data"]["code"] for r in refusals] == ["AUTH_REQUIRED", "FORBIDDEN"], refusals
    assert all(r["message"] == r["data"]["error"] for r in refusals)

    with requests.Session() as http:
        client = socketio.Client(reconnection=False, http_session=http)
        client.connect(url, headers={"Cookie": admin}, namespaces=[NS], transports=transports)
        try:
            asked = [
                client.call("watch", data, namespace=NS, timeout=10)
                for data in ({"download": "1"}, {}, [1], {"download": True}, {"download": 999999})
            ]
        finally:
            client.disconnect()
    assert [a["code"] for a in asked] == ["BAD_REQUEST"] * 4 + ["NOT_FOUND"], asked


def test_a_download_gives_the_same_events_on_both_sides(served, media_server):
    url, manifest = served
    same_events_on_both_sides(url, manifest, media_server)


def test_through_redis_a_worker_emits_to_both_sides(served_with_redis, media_server):
    """With REDIS_URL a Celery worker runs the download, in a process of its own: its
    progress reaches the clients of both sides through Redis (python-socketio's managers)."""
    url, manifest = served_with_redis
    same_events_on_both_sides(url, manifest, media_server)


def same_events_on_both_sides(url: str, manifest: Path, media_server: MediaServer) -> None:
    cookie = cookie_of(url)
    seen = {}
    for owner, transports in (("flask", ["polling"]), ("fastapi", ["polling", "websocket"])):
        own(manifest, owner)
        # A first client starts that side's Redis listener (python-socketio subscribes on
        # a server's first connection); the watcher's ack covers what came before anyway.
        Watcher(url, cookie, 0, transports).close()
        download_id = new_download(url, cookie, media_server, 1.5)
        watcher = Watcher(url, cookie, download_id, transports)
        try:
            assert watcher.done.wait(60), watcher.events
        finally:
            watcher.close()
        assert watcher.acks[0]["id"] == download_id
        assert all(e["id"] == download_id for e in watcher.events)
        progress = [e["progress"] for e in watcher.events]
        assert progress == sorted(progress) and progress[-1] == 100, progress
        assert watcher.events[-1]["status"] == "completed", watcher.events
        final = httpx.get(f"{url}/api/downloads/{download_id}", headers={"Cookie": cookie})
        assert watcher.events[-1] == final.json()  # the message is the API's JSON
        seen[owner] = watcher.events
    assert shape(seen["flask"]) == shape(seen["fastapi"])
    assert {k: v for k, v in seen["flask"][-1].items() if k not in OWN_FIELDS} == {
        k: v for k, v in seen["fastapi"][-1].items() if k not in OWN_FIELDS
    }


def test_sessions_stay_on_their_side_until_a_flip_has_drained(served):
    url, manifest = served
    cookie = cookie_of(url)
    own(manifest, "flask")
    sid = opened(handshake(url, cookie))["sid"]

    def post(packet: str) -> httpx.Response:
        return httpx.post(
            url + "/socket.io/",
            params={"EIO": "4", "transport": "polling", "sid": sid},
            content=packet,
            headers={"Cookie": cookie, "Content-Type": "text/plain;charset=UTF-8"},
        )

    own(manifest, "fastapi")
    # Within the drain the session is still Flask's, and it works.
    joined = post("40/downloads,")
    assert joined.status_code == 200 and joined.headers["x-served-by"] == "flask"
    # A new session goes to the new owner.
    assert handshake(url, cookie).headers["x-served-by"] == "fastapi"

    # Drained (in DRAIN_S): the old session is over; its client will open a new one.
    def ended_yet() -> httpx.Response | None:
        answer = post("3")  # a pong: a session's most ordinary packet
        return answer if answer.status_code != 200 else None

    ended = wait_for(ended_yet, timeout=10)
    assert ended.status_code == 400 and ended.headers["x-served-by"] == "gateway"
    assert ended.json() == {"code": 1, "message": "Session ID unknown"}


def test_the_client_reconnects_to_the_new_owner_and_keeps_the_progress(
    served,
    media_server,
):
    url, manifest = served
    cookie = cookie_of(url)
    own(manifest, "flask")
    download_id = new_download(url, cookie, media_server, 12)
    watcher = Watcher(url, cookie, download_id, ["polling", "websocket"])
    try:
        assert watcher.client.transport() == "polling"  # Flask's: no upgrade
        wait_for(lambda: watcher.events, timeout=15)
        own(manifest, "fastapi")
        # After the drain the gateway ends the Flask session; the client reconnects, to
        # FastAPI, and upgrades to its WebSocket.
        wait_for(lambda: watcher.connects >= 2, timeout=15)
        wait_for(lambda: watcher.client.transport() == "websocket", timeout=10)
        before = len(watcher.events)
        wait_for(lambda: len(watcher.events) > before, timeout=15)
        # And back: the WebSocket is closed at its next message after the drain.
        assert not watcher.done.is_set(), "the download ended too soon to flip back"
        own(manifest, "flask")
        wait_for(lambda: watcher.connects >= 3, timeout=20)
        assert watcher.done.wait(60), watcher.events
    finally:
        watcher.close()
    assert watcher.events[-1]["status"] == "completed"
    progress = [e["progress"] for e in watcher.events]
    assert progress == sorted(progress) and progress[-1] == 100, progress
