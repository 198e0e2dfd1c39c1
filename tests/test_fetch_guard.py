"""Downloads never fetch from the server's own networks (SSRF), on the first request and on
every redirect, unless the host is listed in FIGWAY_DOWNLOAD_ALLOW_HOSTS."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shared.db.models import Artist, Video
from shared.jobs.downloads import videos_dir
from shared.jobs.fetch_guard import AddressRefused, FetchPolicy, refusal
from tests import media_fixtures
from tests.media_fixtures import MediaServer, allow_host, wait_for

media_server = media_fixtures.media_server
sample_video = media_fixtures.sample_video
settings = media_fixtures.settings_allowing_media_server  # the redirecting host is allowed

SECRET = b"internal admin data: do not serve"


class SecretServer:
    """A loopback service holding data nobody outside may read; counts who asked."""

    def __init__(self) -> None:
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(SECRET)))
                self.end_headers()
                self.wfile.write(SECRET)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/secret.mp4"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SecretServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def secret() -> Iterator[SecretServer]:
    with SecretServer() as server:
        yield server


def add_video(db_session, url: str) -> Video:
    artist = Artist(name="Someone", genres=[])
    db_session.add(artist)
    db_session.flush()
    video = Video(artist_id=artist.id, title="A song", url=url)
    db_session.add(video)
    db_session.commit()
    return video


def download(client, video: Video) -> dict[str, Any]:
    queued = client.post(f"/api/videos/{video.id}/download")
    assert queued.status_code == 202, queued.get_data()
    download_id = queued.get_json()["download_id"]

    def finished() -> dict[str, Any] | None:
        state: dict[str, Any] = client.get(f"/api/downloads/{download_id}").get_json()
        return None if state["status"] in ("queued", "running") else state

    return wait_for(finished, timeout=60)


def assert_refused(state: dict[str, Any], settings, video: Video, secret: SecretServer) -> None:
    assert state["status"] == "failed", state
    message = state["error_message"]
    assert "Refused to download from" in message and "loopback" in message, message
    assert "FIGWAY_DOWNLOAD_ALLOW_HOSTS" in message
    assert secret.hits == 0
    folder = videos_dir(settings, video.id)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_loopback_url_is_refused(client, login, db_session, settings, secret):
    login("user")
    video = add_video(db_session, secret.url)
    assert_refused(download(client, video), settings, video, secret)


def test_a_name_resolving_to_loopback_is_refused(client, login, db_session, settings, secret):
    login("user")
    video = add_video(db_session, f"http://localhost:{secret.port}/secret.mp4")
    assert_refused(download(client, video), settings, video, secret)


def test_a_redirect_to_loopback_is_refused(
    client, login, db_session, settings, secret, media_server: MediaServer
):
    # The first host is allowed (as a public host would be); where it redirects is not.
    login("user")
    video = add_video(db_session, media_server.redirect_url(secret.url))
    assert_refused(download(client, video), settings, video, secret)


def test_an_allowed_host_is_fetched(app, client, login, db_session, settings, secret):
    login("user")
    video = add_video(db_session, secret.url)
    allowed = allow_host(settings, f"http://127.0.0.1:{secret.port}")
    # The same settings object both sides read the allow list from at download time.
    settings.download_allow_hosts = allowed.download_allow_hosts
    state = download(client, video)
    assert state["status"] == "completed", state
    assert secret.hits >= 1


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("100.64.0.1", "non-public"),
        ("0.0.0.0", "private"),  # noqa: S104 - an address refused, not one bound
        ("224.0.0.1", "non-public"),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_which_addresses_are_refused(address: str, reason: str | None):
    assert refusal(ipaddress.ip_address(address)) == reason


def test_allowed_hosts_match_by_name_or_by_name_and_port():
    policy = FetchPolicy.of(["Media.Local", "127.0.0.1:8090", "[::1]:9000"])
    assert policy.allows("media.local", 80) and policy.allows("MEDIA.LOCAL.", 443)
    assert policy.allows("127.0.0.1", 8090) and not policy.allows("127.0.0.1", 8091)
    assert policy.allows("::1", 9000) and not policy.allows("::1", 9001)
    with pytest.raises(AddressRefused, match="loopback"):
        policy.connect("127.0.0.1", 8091, 1.0)
