"""One yt-dlp download, from a queued row to a file on disk (or a failed/cancelled row).

Every database step is a conditional UPDATE in its own transaction: the row only moves
forward from the state this job left it in, so a cancel (or a delete) that lands
between two steps wins, and the job cleans up after itself instead of overwriting it.
The same function runs in the legacy app's threads, in the FastAPI side's embedded
threads and in Celery workers; what differs is who calls it again after a RETRY.

While it runs, a heartbeat thread stamps the row; the reaper (shared/jobs/reaper.py)
fails a running row whose stamp went stale, because its worker died.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from shared.clients.metadata import MetadataClient
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Download, Video
from shared.db.plan import run
from shared.errors import NotFound, Unavailable
from shared.media.ffmpeg import FfmpegMissing, ffmpeg_exe
from shared.media.paths import from_stored, media_root, to_stored
from shared.serializers import download_json
from shared.services.downloads import DOWNLOAD_STMT, abandon_download, settle_video

log = logging.getLogger("figway.downloads")

SessionFactory = Callable[[], Session]
CancelCheck = Callable[[], bool]
# Told the row's client-facing JSON after every change this job makes (live progress).
Publish = Callable[[int, dict[str, Any]], None]

WRITE_EVERY_S = 0.5
WRITE_EVERY_PERCENT = 5
SOCKET_TIMEOUT_S = 20.0
MAX_ERROR_CHARS = 300
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CAUSED_BY = re.compile(r" \(caused by .*\)$")
_GAP = " … "
_NEAR = 20  # characters given up at most to cut a message between words
# Formats yt-dlp downloads itself, every request through the fetch guard.
_OWN_PROTOCOLS = "[protocol~='^(https?|m3u8(_native)?|http_dash_segments)$']"
E = TypeVar("E", bound=BaseException)


INTERRUPTED = "Download was interrupted"
# HTTP statuses worth another attempt: the server may answer next time.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class Outcome(Enum):
    SKIPPED = "skipped"  # nothing to claim: cancelled before it started, deleted, or taken
    COMPLETED = "completed"
    FAILED = "failed"  # the row says why
    STOPPED = "stopped"  # cancelled while running, or stopped by the runner (shutdown)
    RETRY = "retry"  # a transient failure: the row is queued again, the caller re-runs it


class _Stopped(Exception):
    """Raised from the progress hook to abort yt-dlp: cancelled, or the row is gone."""


class _Failed(Exception):
    """An expected failure (bad url, HTTP error, no media); its message is for the client."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def videos_dir(settings: Settings, video_id: int) -> Path:
    # Absolute: yt-dlp joins a relative temp folder onto its home folder, leaving a nested
    # empty copy of the path behind.
    return media_root(settings.media_dir) / "videos" / str(video_id)


def run_download(
    session_factory: SessionFactory,
    settings: Settings,
    download_id: int,
    *,
    should_cancel: CancelCheck | None = None,
    publish: Publish | None = None,
    may_retry: bool = False,
) -> Outcome:
    """Run a queued download to its end; never raises for a failed download.

    `may_retry`: a transient failure puts the row back to queued and returns RETRY (the
    caller runs it again later) instead of failing it.
    """
    claimed = _claim(session_factory, download_id)
    if claimed is None:
        return Outcome.SKIPPED  # cancelled before it started, deleted, or another worker has it
    announced = functools.partial(announce, session_factory, download_id, publish)
    announced()
    heartbeat = _Heartbeat(session_factory, download_id, settings.download_heartbeat_s)
    cancelled = should_cancel or (lambda: False)
    hook = _ProgressHook(
        session_factory, download_id, lambda: cancelled() or heartbeat.lost.is_set(), announced
    )
    heartbeat.start()
    try:
        outcome = _attempt(session_factory, settings, download_id, claimed, hook, may_retry)
    finally:
        heartbeat.stop()
    announced()
    return outcome


def _attempt(
    session_factory: SessionFactory,
    settings: Settings,
    download_id: int,
    claimed: _Claimed,
    hook: _ProgressHook,
    may_retry: bool,
) -> Outcome:
    video_id = claimed.video_id
    target = videos_dir(settings, video_id)
    # On every way out but success, the files go first, then the row says how it ended: a
    # client that sees the end never sees a partial file.
    try:
        url = claimed.url or _provider_source(settings, claimed.imvdb_id)
        # Every file this job writes starts with its id, partials included.
        path = _fetch(settings, url, target, str(download_id), hook)
    except _Stopped:
        remove_files(settings, video_id, download_id)
        # A cancel already ended the row; a stop from the runner (shutdown) did not.
        fail(session_factory, download_id, INTERRUPTED)
        return Outcome.STOPPED
    except _Failed as exc:
        remove_files(settings, video_id, download_id)
        message = _short(str(exc))
        if exc.transient and may_retry and _requeue(session_factory, download_id):
            log.info("download %s: transient failure, will retry: %s", download_id, message)
            return Outcome.RETRY
        log.warning("download %s failed: %s", download_id, message)
        fail(session_factory, download_id, message)
        return Outcome.FAILED
    except Exception as exc:  # any failure at all must end as a failed row
        log.exception("download %s failed", download_id)
        remove_files(settings, video_id, download_id)
        fail(session_factory, download_id, _short(f"{type(exc).__name__}: {exc}"))
        return Outcome.FAILED
    if not _complete(session_factory, settings, download_id, video_id, path):
        remove_files(settings, video_id, download_id)  # cancelled after the last byte
        _settle(session_factory, video_id)
        return Outcome.STOPPED
    return Outcome.COMPLETED


def _provider_source(settings: Settings, imvdb_id: int | None) -> str:
    """A video with no url of its own (the demo library's) is fetched from the source the
    metadata provider configured now gives for it."""
    if imvdb_id is None:
        raise _Failed("Video has no url to download from")
    key = settings.metadata_api_key
    with MetadataClient(
        settings.metadata_base_url,
        settings.metadata_timeout_s,
        api_key=key.get_secret_value() if key is not None else None,
        pool_size=1,
    ) as client:
        try:
            source = client.video(imvdb_id).source_url
        except NotFound as exc:
            raise _Failed(exc.message) from exc
        except Unavailable as exc:
            raise _Failed(exc.message, transient=True) from exc
    if source is None:
        raise _Failed("The metadata provider knows no source for this video")
    return source


def retry_delay(settings: Settings, retries_done: int) -> float | None:
    """How long to wait before the next attempt, or None when the retries are used up."""
    if retries_done >= settings.download_max_retries:
        return None
    return float(settings.download_retry_delay_s * 2**retries_done)


def _running(download_id: int) -> Any:
    return update(Download).where(Download.id == download_id, Download.status == "running")


def _rowcount(session: Session, statement: Any) -> int:
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"[:255]


@dataclass(frozen=True)
class _Claimed:
    video_id: int
    url: str | None
    imvdb_id: int | None


def _claim(session_factory: SessionFactory, download_id: int) -> _Claimed | None:
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
        return _Claimed(video.id, video.url, video.imvdb_id)


def announce(session_factory: SessionFactory, download_id: int, publish: Publish | None) -> None:
    """Publish the row as clients see it (GET /api/downloads/<id>) after a change."""
    if publish is None:
        return
    with session_factory() as session:
        # The statement GET /api/downloads/<id> runs: the same JSON.
        row = session.execute(DOWNLOAD_STMT, {"download_id": download_id}).mappings().first()
        payload = download_json(row) if row is not None else None
    if payload is None:
        return
    try:
        publish(download_id, payload)
    except Exception:  # live progress is a courtesy: the row stays the truth
        log.warning("download %s: could not publish progress", download_id, exc_info=True)


class _Heartbeat:
    """Stamps heartbeat_at while the job runs, in its own thread, so a download that is
    slow (no progress for a while) is still seen alive; a job whose row stopped running
    (cancelled, reaped) learns it here even when yt-dlp reports no progress."""

    def __init__(self, session_factory: SessionFactory, download_id: int, every_s: float) -> None:
        self._sessions = session_factory
        self._id = download_id
        self._every = every_s
        self._done = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{download_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self._every):
            try:
                with self._sessions() as session, session.begin():
                    alive = _rowcount(session, _running(self._id).values(heartbeat_at=utcnow()))
            except Exception:  # a database blip: the next beat tries again
                log.warning("download %s: heartbeat failed", self._id, exc_info=True)
                continue
            if not alive:
                self.lost.set()
                return


@dataclass
class _ProgressHook:
    """yt-dlp's progress hook: throttled progress writes, and the place a cancel lands."""

    session_factory: SessionFactory
    download_id: int
    should_cancel: CancelCheck
    announce: Callable[[], None]
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
        self.announce()


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
        # Only downloads made by yt-dlp itself, whose requests all pass the fetch guard:
        # HLS natively, and no format whose protocol needs an outside tool (rtmp, rtsp...).
        "hls_prefer_native": True,
        "format": f"bv*{_OWN_PROTOCOLS}+ba{_OWN_PROTOCOLS}/b{_OWN_PROTOCOLS}",
    }
    # Lets yt-dlp merge separate video and audio streams; without it, it picks one file.
    with contextlib.suppress(FfmpegMissing):
        options["ffmpeg_location"] = ffmpeg_exe(settings)
    return options


def _fetch(settings: Settings, url: str, target: Path, stem: str, hook: _ProgressHook) -> Path:
    # Imported here: yt-dlp takes about a second to import and only download runners need it.
    import yt_dlp

    from shared.jobs.fetch_guard import DownloadRefused, FetchPolicy, guarded_youtubedl

    policy = FetchPolicy.of(settings.download_allow_hosts)
    target.mkdir(parents=True, exist_ok=True)
    with guarded_youtubedl(policy, _options(settings, target, stem, hook)) as ydl:
        try:
            info = ydl.extract_info(url, download=True)
        except DownloadRefused as exc:  # the extractor's request: yt-dlp lets it through
            raise _Failed(str(exc)) from exc
        except yt_dlp.utils.DownloadError as exc:
            refused = _in_chain(exc.exc_info, DownloadRefused)  # the file's request: wrapped
            if refused is not None:
                raise _Failed(str(refused)) from exc
            raise _Failed(str(exc), transient=_is_transient(exc.exc_info)) from exc
        if info is None:
            raise _Failed("Nothing to download at this url")
        requested = info.get("requested_downloads") or [info]
        filepath = requested[0].get("filepath") or ydl.prepare_filename(info)
    path = Path(filepath).resolve()
    if not path.is_file() or not path.is_relative_to(target.resolve()):
        raise _Failed("The downloader reported no file")
    return path


def _complete(
    session_factory: SessionFactory, settings: Settings, download_id: int, video_id: int, path: Path
) -> bool:
    size = path.stat().st_size
    stored = to_stored(settings.media_dir, path)
    with session_factory() as session, session.begin():
        statement = _running(download_id).values(
            status="completed",
            progress=100,
            file_path=stored,
            file_size=size,
            finished_at=utcnow(),
        )
        if not _rowcount(session, statement):
            return False
        video = session.get(Video, video_id)
        if video is None:
            return False
        _replace_old_file(from_stored(settings.media_dir, video.file_path), path)
        video.status, video.file_path, video.file_size = "downloaded", stored, size
    return True


def _replace_old_file(previous: Path | None, new: Path) -> None:
    """A re-download supersedes the previous file of the same video's folder."""
    if previous is not None and previous != new and previous.parent == new.parent:
        previous.unlink(missing_ok=True)


def fail(
    session_factory: SessionFactory, download_id: int, message: str, *, where: Any = None
) -> bool:
    """Running -> failed (and its video failed), if it is still running (and `where` holds);
    otherwise only settle the video a cancel left behind. True if this call failed it."""
    with session_factory() as session, session.begin():
        statement = _running(download_id)
        if where is not None:
            statement = statement.where(where)
        video_id = session.scalar(select(Download.video_id).where(Download.id == download_id))
        done = _rowcount(
            session, statement.values(status="failed", error_message=message, finished_at=utcnow())
        )
        if video_id is None:
            return False
        if not done:
            settle_video(session, video_id)
            return False
        video = session.get(Video, video_id)
        if video is not None:
            video.status = "failed"
    return True


def abandon(session_factory: SessionFactory, download_id: int, message: str) -> bool:
    """Queued -> failed: a row waiting for a retry that will never come (shutdown)."""
    with session_factory() as session, session.begin():
        return run(session, abandon_download, download_id, message)


def _requeue(session_factory: SessionFactory, download_id: int) -> bool:
    """Running -> queued for another attempt, as if never started (the video stays
    'downloading'). False if a cancel got there first. Stamped now: on a queued row the
    stamp says when it was last sent, so the reaper leaves a row waiting for its retry."""
    with session_factory() as session, session.begin():
        statement = _running(download_id).values(
            status="queued", progress=0, started_at=None, heartbeat_at=utcnow(), worker_id=None
        )
        return bool(_rowcount(session, statement))


def _settle(session_factory: SessionFactory, video_id: int) -> None:
    with session_factory() as session, session.begin():
        settle_video(session, video_id)


def remove_files(settings: Settings, video_id: int, download_id: int) -> None:
    """Remove what a download wrote (<id>.mp4.part, <id>.f137.mp4, ...), then an empty folder."""
    target = videos_dir(settings, video_id)
    for path in target.glob(f"{download_id}.*"):
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: other files of the video live there
        target.rmdir()


def _chain(exc_info: Any) -> Iterator[BaseException]:
    """The error and what caused it: yt-dlp wraps its networking errors (ExtractorError.cause,
    __cause__), so the one that tells what happened is somewhere down the chain."""
    seen: set[int] = set()
    pending = [exc_info[1]] if exc_info else []
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        pending += [getattr(exc, "cause", None), exc.__cause__, exc.__context__]


def _in_chain(exc_info: Any, kind: type[E]) -> E | None:
    return next((exc for exc in _chain(exc_info) if isinstance(exc, kind)), None)


def _is_transient(exc_info: Any) -> bool:
    """A refused or dropped connection, a timeout, or a 5xx/429: worth another attempt."""
    from yt_dlp.networking.exceptions import HTTPError, TransportError

    for exc in _chain(exc_info):
        if isinstance(exc, TransportError | TimeoutError | ConnectionError):
            return True
        if isinstance(exc, HTTPError):
            return exc.status in TRANSIENT_STATUSES
    return False


def _short(text: str) -> str:
    """One line for the client: no colour codes, no "ERROR:" prefix, no traceback, and no
    "(caused by ...)" (yt-dlp repeats the message there); at most MAX_ERROR_CHARS."""
    text = _ANSI.sub("", text).strip().removeprefix("ERROR:").strip()
    first_line = text.splitlines()[0] if text else "Download failed"
    return clip_middle(_CAUSED_BY.sub("", first_line), MAX_ERROR_CHARS)


def clip_middle(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut between words in the middle: the start
    says what failed ("[generic] Unable to download webpage:") and the end why
    ("Connection refused"); a long url in between is what gives way."""
    if len(text) <= limit:
        return text
    room = limit - len(_GAP)
    head = text[: room - room // 2]
    tail = text[len(text) - room // 2 :]
    # Back to a word boundary on each side when one is near; a long token (a url) is cut.
    cut = head.rfind(" ")
    head = head[:cut] if cut >= len(head) - _NEAR else head
    cut = tail.find(" ")
    tail = tail[cut + 1 :] if 0 <= cut < _NEAR else tail
    return f"{head.rstrip()}{_GAP}{tail.lstrip()}"
