"""One yt-dlp download, from a queued row to a file on disk (or a failed/cancelled row).

Every database step is a conditional UPDATE in its own transaction: the row only moves
forward from the state this job left it in, so a cancel (or a delete) that lands
between two steps wins, and the job cleans up after itself instead of overwriting it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Download, Video
from shared.media.ffmpeg import FfmpegMissing, ffmpeg_exe
from shared.services.downloads import settle_video

log = logging.getLogger("figway.downloads")

SessionFactory = Callable[[], Session]
CancelCheck = Callable[[], bool]

WRITE_EVERY_S = 0.5
WRITE_EVERY_PERCENT = 5
SOCKET_TIMEOUT_S = 20.0
MAX_ERROR_CHARS = 300
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Stopped(Exception):
    """Raised from the progress hook to abort yt-dlp: cancelled, or the row is gone."""


class _Failed(Exception):
    """An expected failure (bad url, HTTP error, no media); its message is for the client."""


def videos_dir(settings: Settings, video_id: int) -> Path:
    return settings.media_dir / "videos" / str(video_id)


def run_download(
    session_factory: SessionFactory,
    settings: Settings,
    download_id: int,
    *,
    should_cancel: CancelCheck | None = None,
) -> None:
    """Run a queued download to its end; never raises for a failed download."""
    claimed = _claim(session_factory, download_id)
    if claimed is None:
        return  # cancelled before it started, deleted, or another worker has it
    video_id, url = claimed
    target = videos_dir(settings, video_id)
    stem = str(download_id)  # every file this job writes starts with it, partials included
    hook = _ProgressHook(session_factory, download_id, should_cancel or (lambda: False))
    try:
        if not url:
            raise _Failed("Video has no url to download from")
        path = _fetch(settings, url, target, stem, hook)
    except _Stopped:
        _remove_files(target, stem)
        # A cancel already ended the row; a stop from the runner (shutdown) did not.
        _fail(session_factory, download_id, video_id, "Download was interrupted")
        return
    except _Failed as exc:
        log.warning("download %s failed: %s", download_id, exc)
        _remove_files(target, stem)
        _fail(session_factory, download_id, video_id, _short(str(exc)))
        return
    except Exception as exc:  # any failure at all must end as a failed row
        log.exception("download %s failed", download_id)
        _remove_files(target, stem)
        _fail(session_factory, download_id, video_id, _short(f"{type(exc).__name__}: {exc}"))
        return
    if not _complete(session_factory, download_id, video_id, path):
        _remove_files(target, stem)  # cancelled after the last byte: keep nothing
        _settle(session_factory, video_id)


def _running(download_id: int) -> Any:
    return update(Download).where(Download.id == download_id, Download.status == "running")


def _rowcount(session: Session, statement: Any) -> int:
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"[:255]


def _claim(session_factory: SessionFactory, download_id: int) -> tuple[int, str | None] | None:
    now = utcnow()
    with session_factory() as session, session.begin():
        claimed = _rowcount(
            session,
            update(Download)
            .where(Download.id == download_id, Download.status == "queued")
            .values(status="running", started_at=now, heartbeat_at=now, worker_id=_worker_id()),
        )
        if not claimed:
            return None
        download = session.get(Download, download_id)
        assert download is not None
        video = session.get(Video, download.video_id)
        if video is None:
            return None  # the cascade removes the row with its video
        video.status = "downloading"
        return video.id, video.url


@dataclass
class _ProgressHook:
    """yt-dlp's progress hook: throttled progress writes, and the place a cancel lands."""

    session_factory: SessionFactory
    download_id: int
    should_cancel: CancelCheck
    written_at: float = field(default_factory=time.monotonic)
    written_percent: int = 0

    def __call__(self, status: dict[str, Any]) -> None:
        if self.should_cancel():
            raise _Stopped()
        if status.get("status") != "downloading":
            return
        percent = _percent(status)
        now = time.monotonic()
        if (
            now - self.written_at < WRITE_EVERY_S
            and percent - self.written_percent < WRITE_EVERY_PERCENT
        ):
            return
        self.written_at, self.written_percent = now, percent
        with self.session_factory() as session, session.begin():
            statement = _running(self.download_id).values(progress=percent, heartbeat_at=utcnow())
            # No row still running: cancelled (or deleted) from elsewhere.
            if not _rowcount(session, statement):
                raise _Stopped()


def _percent(status: dict[str, Any]) -> int:
    total = status.get("total_bytes") or status.get("total_bytes_estimate")
    done = status.get("downloaded_bytes") or 0
    if not total:
        return 0
    # 100 means finished and moved into place, which only _complete may say.
    return max(0, min(99, int(done * 100 / total)))


class _YtDlpLog:
    """yt-dlp's messages go to our log, never to the server's stdout."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def warning(self, msg: str) -> None:
        log.info("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        log.info("yt-dlp: %s", msg)  # it raises DownloadError next, which we log once


def _options(settings: Settings, target: Path, stem: str, hook: _ProgressHook) -> dict[str, Any]:
    options: dict[str, Any] = {
        "paths": {"home": str(target), "temp": str(target)},
        "outtmpl": {"default": f"{stem}.%(ext)s"},
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "color": {"stdout": "no_color", "stderr": "no_color"},
        "logger": _YtDlpLog(),
        "progress_hooks": [hook],
        # Nothing but the video itself: no cache dir, thumbnails, subtitles or info files.
        "cachedir": False,
        "writethumbnail": False,
        "writesubtitles": False,
        "writeinfojson": False,
        "continuedl": False,
        "overwrites": True,
        "socket_timeout": SOCKET_TIMEOUT_S,
        "retries": 2,
        "fragment_retries": 2,
    }
    # Lets yt-dlp merge separate video and audio streams; without it, it picks one file.
    with contextlib.suppress(FfmpegMissing):
        options["ffmpeg_location"] = ffmpeg_exe(settings)
    return options


def _fetch(settings: Settings, url: str, target: Path, stem: str, hook: _ProgressHook) -> Path:
    # Imported here: yt-dlp takes about a second to import and only download runners need it.
    import yt_dlp

    target.mkdir(parents=True, exist_ok=True)
    with yt_dlp.YoutubeDL(_options(settings, target, stem, hook)) as ydl:
        try:
            info = ydl.extract_info(url, download=True)
        except yt_dlp.utils.DownloadError as exc:
            raise _Failed(str(exc)) from exc
        if info is None:
            raise _Failed("Nothing to download at this url")
        requested = info.get("requested_downloads") or [info]
        filepath = requested[0].get("filepath") or ydl.prepare_filename(info)
    path = Path(filepath).resolve()
    if not path.is_file() or not path.is_relative_to(target.resolve()):
        raise _Failed("The downloader reported no file")
    return path


def _complete(session_factory: SessionFactory, download_id: int, video_id: int, path: Path) -> bool:
    size = path.stat().st_size
    with session_factory() as session, session.begin():
        statement = _running(download_id).values(
            status="completed",
            progress=100,
            file_path=str(path),
            file_size=size,
            finished_at=utcnow(),
        )
        if not _rowcount(session, statement):
            return False
        video = session.get(Video, video_id)
        if video is None:
            return False
        _replace_old_file(video.file_path, path)
        video.status, video.file_path, video.file_size = "downloaded", str(path), size
    return True


def _replace_old_file(old: str | None, new: Path) -> None:
    """A re-download supersedes the previous file of the same video's folder."""
    if not old:
        return
    previous = Path(old).resolve()
    if previous != new and previous.parent == new.parent and previous.is_file():
        previous.unlink()


def _fail(session_factory: SessionFactory, download_id: int, video_id: int, message: str) -> None:
    with session_factory() as session, session.begin():
        statement = _running(download_id).values(
            status="failed", error_message=message, finished_at=utcnow()
        )
        if not _rowcount(session, statement):
            settle_video(session, video_id)
            return
        video = session.get(Video, video_id)
        if video is not None:
            video.status = "failed"


def _settle(session_factory: SessionFactory, video_id: int) -> None:
    with session_factory() as session, session.begin():
        settle_video(session, video_id)


def _remove_files(target: Path, stem: str) -> None:
    """Remove what this job wrote (<stem>.mp4.part, <stem>.f137.mp4, ...), then an empty folder."""
    for path in target.glob(f"{stem}.*"):
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: other files of the video live there
        target.rmdir()


def _short(text: str) -> str:
    """One line for the client: no colour codes, no "ERROR:" prefix, no traceback."""
    text = _ANSI.sub("", text).strip().removeprefix("ERROR:").strip()
    first_line = text.splitlines()[0] if text else "Download failed"
    return first_line[:MAX_ERROR_CHARS]
