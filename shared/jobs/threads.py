"""Downloads run in threads of this process: the legacy app's way, and the FastAPI side's
embedded mode (no REDIS_URL). Both run the same job (shared/jobs/downloads.py)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from shared.config import Settings
from shared.jobs.downloads import (
    INTERRUPTED,
    Outcome,
    Publish,
    abandon,
    retry_delay,
    run_download,
)

log = logging.getLogger("figway.downloads")


class DownloadThreads:
    """A thread per running download, with a cancel signal each; joinable for tests and
    shutdown. `retries`: whether transient failures are tried again (the legacy app's
    threads never do: its contract fails them at once)."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        settings: Settings,
        *,
        publish: Publish | None = None,
        retries: bool = False,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._publish = publish
        self._retries = retries
        self._lock = threading.Lock()
        self._running: dict[int, tuple[threading.Thread, threading.Event]] = {}

    def submit(self, download_id: int) -> None:
        cancel = threading.Event()
        # Daemon: a stuck download must not keep the server from exiting.
        thread = threading.Thread(
            target=self._run,
            args=(download_id, cancel),
            name=f"download-{download_id}",
            daemon=True,
        )
        with self._lock:
            if download_id in self._running:
                return  # sent again by the reaper while its thread here waits for a retry
            self._running[download_id] = (thread, cancel)
        thread.start()

    def _run(self, download_id: int, cancel: threading.Event) -> None:
        try:
            self._attempts(download_id, cancel)
        except Exception:  # a thread's exception would otherwise vanish into stderr
            log.exception("download %s: runner crashed", download_id)
        finally:
            with self._lock:
                self._running.pop(download_id, None)

    def _attempts(self, download_id: int, cancel: threading.Event) -> None:
        retries_done = 0
        while True:
            delay = retry_delay(self._settings, retries_done) if self._retries else None
            outcome = run_download(
                self._sessions,
                self._settings,
                download_id,
                should_cancel=cancel.is_set,
                publish=self._publish,
                may_retry=delay is not None,
            )
            if outcome is not Outcome.RETRY or delay is None:
                return
            if cancel.wait(delay):
                # Shut down (or cancelled) between attempts: the queued row must not be
                # left for nobody to run.
                abandon(self._sessions, download_id, INTERRUPTED)
                return
            retries_done += 1

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
