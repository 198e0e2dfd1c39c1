"""The download queue, run the legacy way: one yt-dlp thread per download in this process."""

from __future__ import annotations

import logging
import threading
import time

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session, sessionmaker

from legacy_flask.auth import current_user, require
from legacy_flask.db import db
from legacy_flask.extensions import legacy
from shared.config import Settings
from shared.jobs.downloads import run_download
from shared.services import downloads as service

bp = Blueprint("downloads", __name__)
log = logging.getLogger("figway.downloads")
RUNNER_PART = "downloads"


class DownloadThreads:
    """Threads running downloads, with a cancel signal each; joinable for tests and shutdown."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._lock = threading.Lock()
        self._running: dict[int, tuple[threading.Thread, threading.Event]] = {}

    def start(self, download_id: int) -> None:
        cancel = threading.Event()
        # Daemon: a stuck download must not keep the server from exiting.
        thread = threading.Thread(
            target=self._run,
            args=(download_id, cancel),
            name=f"download-{download_id}",
            daemon=True,
        )
        with self._lock:
            self._running[download_id] = (thread, cancel)
        thread.start()

    def _run(self, download_id: int, cancel: threading.Event) -> None:
        try:
            run_download(self._sessions, self._settings, download_id, should_cancel=cancel.is_set)
        except Exception:  # a thread's exception would otherwise vanish into stderr
            log.exception("download %s: runner crashed", download_id)
        finally:
            with self._lock:
                self._running.pop(download_id, None)

    def cancel(self, download_id: int) -> None:
        """Tell a running thread now rather than at its next progress write."""
        with self._lock:
            entry = self._running.get(download_id)
        if entry is not None:
            entry[1].set()

    def close(self, timeout: float = 10.0) -> None:
        """At shutdown: stop every download (their rows end failed, partial files removed)."""
        with self._lock:
            events = [cancel for _, cancel in self._running.values()]
        for cancel in events:
            cancel.set()
        self.join(timeout)

    def threads(self) -> list[threading.Thread]:
        with self._lock:
            return [thread for thread, _ in self._running.values()]

    def join(self, timeout: float) -> bool:
        """Wait for every running download; False if some are still running at the deadline."""
        deadline = time.monotonic() + timeout
        for thread in self.threads():
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.threads()


def runner() -> DownloadThreads:
    ext = legacy()
    found = ext.parts.get(RUNNER_PART)
    if found is None:
        found = ext.parts.setdefault(RUNNER_PART, DownloadThreads(ext.sessions, ext.settings))
    assert isinstance(found, DownloadThreads)
    return found


@bp.post("/api/videos/<int:video_id>/download")
@require("user")
def queue(video_id: int) -> tuple[Response, int]:
    user = current_user()
    download = service.queue_download(db(), video_id, user.id if user else None)
    download_id = download.id
    db().commit()  # the thread must find the row
    runner().start(download_id)
    return jsonify({"success": True, "download_id": download_id}), 202


@bp.get("/api/downloads")
@require("user")
def list_downloads() -> Response:
    return jsonify(service.list_downloads(db(), request.args.get("status")))


@bp.get("/api/downloads/<int:download_id>")
@require("user")
def get_download(download_id: int) -> Response:
    return jsonify(service.get_download(db(), download_id))


@bp.post("/api/downloads/<int:download_id>/cancel")
@require("user")
def cancel(download_id: int) -> Response:
    result = service.cancel_download(db(), download_id)
    db().commit()
    runner().cancel(download_id)
    return jsonify(result)


@bp.delete("/api/downloads/<int:download_id>")
@require("manager")
def delete(download_id: int) -> Response:
    result = service.delete_download(db(), download_id)
    db().commit()
    return jsonify(result)
