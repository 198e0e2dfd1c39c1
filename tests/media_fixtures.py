"""Media fixtures any test may import: a real MP4 made by ffmpeg, a loopback HTTP server
serving it (for yt-dlp), and a polling helper with a deadline."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from shared.config import Settings
from shared.media.ffmpeg import ffmpeg_exe, make_sample_video
from tests.polling import wait_for

__all__ = ["wait_for"]  # re-exported: the download and worker tests import it from here

SLOW_PREFIX = "/slow/"
# /redirect/?to=<url>: a 302 to that url.
REDIRECT_PREFIX = "/redirect/"
PACED_PREFIX = "/paced/"
# /flaky/<n>/<name>: the first n requests for that path get a 503, then the file is served.
FLAKY_PREFIX = "/flaky/"
SLOW_SIZE = 64 * 1024 * 1024  # declared length: far more than a test ever waits for
SLOW_CHUNK = 16 * 1024
SLOW_PAUSE_S = 0.02  # ~800 KB/s: a download that is still running when the test cancels it


def ffmpeg_binary() -> str:
    """The ffmpeg the app would use (FFMPEG_PATH, PATH, or the wheel's)."""
    settings = Settings(_env_file=None, env="test", secret_key="unused")
    return ffmpeg_exe(settings)


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~2 s 320x240 H.264/AAC MP4 with +faststart, made once per test session."""
    path = tmp_path_factory.mktemp("sample") / "sample.mp4"
    return make_sample_video(ffmpeg_binary(), path, seconds=2, size="320x240")


def place_video(settings: Settings, sample: Path, video_id: int, name: str = "clip.mp4") -> Path:
    """Copy the sample under media_dir, where a downloaded file of `video_id` would live."""
    target = settings.media_dir / "videos" / str(video_id) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sample, target)
    return target


@dataclass
class MediaServer:
    root: Path
    base_url: str

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    hits: dict[str, int] = field(default_factory=dict)  # requests per path, for the flaky ones

    def slow_url(self, name: str = "slow.mp4") -> str:
        """A video that trickles in slowly and never ends within a test."""
        return f"{self.base_url}{SLOW_PREFIX}{name}"

    def paced_url(self, seconds: float, name: str = "paced.mp4") -> str:
        """A video that trickles in at the slow pace for about `seconds`, then ends."""
        return f"{self.base_url}{PACED_PREFIX}{seconds}/{name}"

    def flaky_url(self, failures: int, name: str = "sample.mp4") -> str:
        """`name`, after `failures` answers of 503 Service Unavailable (a unique path each)."""
        return f"{self.base_url}{FLAKY_PREFIX}{failures}/{uuid.uuid4().hex}/{name}"

    def redirect_url(self, target: str) -> str:
        """An address here that answers with a redirect to `target`."""
        return f"{self.base_url}{REDIRECT_PREFIX}?{urlencode({'to': target})}"

    def requests_to(self, url: str) -> int:
        return self.hits.get(url.removeprefix(self.base_url), 0)


def _handler(
    root: Path, stop: threading.Event, hits: dict[str, int]
) -> type[SimpleHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output clean

        def do_GET(self) -> None:
            if self.path.startswith(SLOW_PREFIX):
                self._trickle(SLOW_SIZE)
            elif self.path.startswith(PACED_PREFIX):
                seconds = float(self.path.removeprefix(PACED_PREFIX).split("/", 1)[0])
                self._trickle(int(seconds / SLOW_PAUSE_S) * SLOW_CHUNK)
            elif self.path.startswith(FLAKY_PREFIX):
                self._flaky()
            elif self.path.startswith(REDIRECT_PREFIX):
                self.send_response(302)
                self.send_header("Location", parse_qs(urlsplit(self.path).query)["to"][0])
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                super().do_GET()

        def _flaky(self) -> None:
            failures, _unique, name = self.path.removeprefix(FLAKY_PREFIX).split("/", 2)
            with lock:
                seen = hits[self.path] = hits.get(self.path, 0) + 1
            if seen <= int(failures):
                self.send_error(503, "Service Unavailable")
                return
            self.path = f"/{name}"
            super().do_GET()

        def _trickle(self, size: int) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk, sent = b"\0" * SLOW_CHUNK, 0
            try:
                while sent < size and not stop.is_set():
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    stop.wait(SLOW_PAUSE_S)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away: exactly what a cancel does

    return Handler


@pytest.fixture(scope="session")
def media_server(
    sample_video: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MediaServer]:
    """A loopback HTTP server in a thread serving the sample as /sample.mp4."""
    root = tmp_path_factory.mktemp("served")
    shutil.copyfile(sample_video, root / "sample.mp4")
    stop = threading.Event()
    hits: dict[str, int] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(root, stop, hits))
    thread = threading.Thread(target=server.serve_forever, name="media-server", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield MediaServer(root=root, base_url=f"http://{host!s}:{port}", hits=hits)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def allow_host(settings: Settings, base_url: str) -> Settings:
    """`settings` letting downloads fetch from the loopback server at `base_url`: that host
    and port only, so any other loopback address stays refused."""
    parts = urlsplit(base_url)
    allowed = [*settings.download_allow_hosts, f"{parts.hostname}:{parts.port}"]
    return settings.model_copy(update={"download_allow_hosts": allowed})


@pytest.fixture(name="settings")
def settings_allowing_media_server(settings: Settings, media_server: MediaServer) -> Settings:
    """The test settings, with the media server allowed: import it into a module whose
    downloads fetch from it (`settings = media_fixtures.settings_allowing_media_server`)."""
    return allow_host(settings, media_server.base_url)


def ffmpeg_children(parent: int) -> list[int]:
    """The ffmpeg child processes of `parent` (zombies included: only a reaped one is gone)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited while we looked
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
        if int(rest.split()[1]) == parent and name.startswith("ffmpeg"):
            found.append(int(stat.parent.name))
    return found
