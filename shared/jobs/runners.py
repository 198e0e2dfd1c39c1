"""Where the FastAPI side's downloads run, chosen once from the settings.

With REDIS_URL: Celery workers, on as many machines as needed, progress over Redis pub/sub.
Without (the embedded default of `make run`): threads of this process, running the same
job code, progress through an in-process bus. Either way the route only queues a row and
submits its id; it never waits for the download.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from shared.config import Settings
from shared.db.engine import LazySyncSessions
from shared.jobs.downloads import Publish
from shared.jobs.progress import LocalProgress, ProgressBus, RedisProgress, fan_out
from shared.jobs.reaper import reap_stale_downloads, requeue_lost_downloads
from shared.jobs.threads import DownloadThreads
from shared.realtime.emitter import ProgressEmitter

log = logging.getLogger("figway.downloads")


class DownloadRunner(Protocol):
    def submit(self, download_id: int) -> None: ...

    def cancel(self, download_id: int) -> None: ...

    def join(self, timeout: float) -> bool: ...

    def close(self, timeout: float = 10.0) -> None: ...


@dataclass
class DownloadJobs:
    runner: DownloadRunner
    progress: ProgressBus
    sessions: LazySyncSessions  # for the embedded threads and the reaper, in threads only
    settings: Settings
    # What this process's jobs and reaper tell of a change: both live channels, the
    # WebSockets' bus and Socket.IO.
    publish: Publish

    @classmethod
    def create(cls, settings: Settings) -> DownloadJobs:
        sessions = LazySyncSessions(settings)
        if settings.redis_url:
            # Imported here: Celery is only loaded by processes that talk to a broker.
            from shared.jobs.celery_app import CeleryDownloads

            bus = RedisProgress(
                settings.redis_url, settings.broker_timeout_s, settings.celery_queue
            )
            publish = fan_out(bus.publish, ProgressEmitter(settings).emit)
            return cls(CeleryDownloads(settings), bus, sessions, settings, publish)
        progress = LocalProgress()
        publish = fan_out(progress.publish, ProgressEmitter(settings).emit)
        runner = DownloadThreads(sessions, settings, publish=publish, retries=True)
        return cls(runner, progress, sessions, settings, publish)

    @property
    def embedded(self) -> bool:
        return isinstance(self.runner, DownloadThreads)

    def reap(self) -> list[int]:
        """One pass of the reaper (blocking: run it in a thread): fails the running
        downloads whose worker died, sends again the queued ones whose message was lost;
        the ids failed."""
        reaped = reap_stale_downloads(self.sessions, self.settings, publish=self.publish)
        requeue_lost_downloads(self.sessions, self.settings, self.runner.submit)
        return reaped

    def close(self, timeout: float = 10.0) -> None:
        """Blocking: stops this process's downloads (embedded), then the pools."""
        self.runner.close(timeout)
        self.sessions.dispose()
