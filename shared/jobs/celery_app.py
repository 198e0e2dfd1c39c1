"""The Celery app: long jobs on workers that scale past one machine, Redis as the broker.

The tasks call the same job code the legacy app runs in its threads
(shared/jobs/downloads.py); the database row stays the truth, so a task that is
delivered twice finds its row already claimed and does nothing.
"""

from __future__ import annotations

from functools import cached_property

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.db.engine import create_sync_engine, sync_sessionmaker
from shared.jobs.downloads import run_download

DOWNLOAD_TASK = "figway.download"


class _WorkerDatabase:
    """One sync engine per worker process, made on first use (after the fork, not before)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return sync_sessionmaker(create_sync_engine(self.settings))


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
    database = _WorkerDatabase(settings)

    @app.task(name=DOWNLOAD_TASK)  # type: ignore[untyped-decorator]
    def download(download_id: int) -> None:
        run_download(database.sessions, settings, download_id)

    return app


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
