"""The Celery app: long jobs on workers that scale past one machine, Redis as the broker.

The tasks call the same job code the legacy app runs in its threads
(shared/jobs/downloads.py); the database row stays the truth, so a task that is
delivered twice finds its row already claimed and does nothing. Progress goes out on
Redis pub/sub (shared/jobs/progress.py) for the WebSockets of every gateway process.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from shared.config import Settings
from shared.db.engine import LazySyncSessions
from shared.jobs.downloads import Outcome, retry_delay, run_download
from shared.jobs.progress import RedisProgress, fan_out
from shared.realtime.emitter import ProgressEmitter

DOWNLOAD_TASK = "figway.download"


def create_celery(settings: Settings) -> Celery:
    if not settings.redis_url:
        raise ValueError("REDIS_URL is not set: Celery needs Redis as its broker")
    app = Celery("figway", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.celery_queue,
        # Late acknowledgement: a worker that dies mid-download leaves the message for
        # another one instead of losing it.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    # One engine per worker process, made on first use (after the fork, not before).
    sessions = LazySyncSessions(settings)
    progress = RedisProgress(settings.redis_url, settings.broker_timeout_s, settings.celery_queue)
    # The WebSockets' channel and the Socket.IO servers' one, both on this Redis.
    publish = fan_out(progress.publish, ProgressEmitter(settings).emit)

    @app.task(name=DOWNLOAD_TASK, bind=True)  # type: ignore[untyped-decorator]
    def download(task: Any, download_id: int) -> None:
        retries_done: int = task.request.retries
        delay = retry_delay(settings, retries_done)
        outcome = run_download(
            sessions,
            settings,
            download_id,
            publish=publish,
            may_retry=delay is not None,
        )
        if outcome is Outcome.RETRY:
            # A new message for later; this one is acknowledged. The row is queued again,
            # so the retry claims it like a first delivery would.
            raise task.retry(countdown=delay, max_retries=settings.download_max_retries)

    return app


class CeleryDownloads:
    """The FastAPI side's downloads with REDIS_URL set: queued to Celery, run by workers.

    `submit` talks to the broker, so callers on an event loop run it in a thread. Cancel
    needs no message: the row is the signal, and the worker reads it at its next progress
    write or heartbeat."""

    def __init__(self, settings: Settings) -> None:
        self._app = create_celery(settings)
        timeout = settings.broker_timeout_s
        self._app.conf.update(
            # A hung Redis costs the request at most its connect and one send: each is
            # bounded, and neither kombu nor redis-py tries again (redis-py's own retries
            # turned a 1 s socket timeout into 15 s). Only for sending: a worker's consumer
            # keeps the defaults its blocking reads rely on.
            broker_transport_options={
                "socket_connect_timeout": timeout,
                "socket_timeout": timeout,
            },
            task_publish_retry=False,
        )
        self._queue = settings.celery_queue

    def submit(self, download_id: int) -> None:
        self._app.send_task(DOWNLOAD_TASK, args=[download_id], queue=self._queue)

    def cancel(self, download_id: int) -> None:
        return None

    def join(self, timeout: float) -> bool:
        return True  # nothing runs in this process

    def close(self, timeout: float = 10.0) -> None:
        self._app.close()


def run_worker(settings: Settings, concurrency: int) -> None:
    """`figway worker`: consume the queue until interrupted."""
    app = create_celery(settings)
    app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            f"--queues={settings.celery_queue}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
