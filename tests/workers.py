"""A real `figway worker` (Celery on the real Redis) for the tests that need one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.config import Settings
from shared.jobs.celery_app import DOWNLOAD_TASK, create_celery
from tests.servers import base_env

# Short enough for a test to see the reaper act within seconds.
FAST_JOBS = {
    "download_heartbeat_s": 0.3,
    "download_stale_after_s": 1.5,
    "download_reaper_interval_s": 0.3,
    "download_retry_delay_s": 0.05,
}


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text()[-3000:]

    def kill(self) -> None:
        """SIGKILL the whole worker (Celery's parent and its pool): a machine gone."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


def send_download(settings: Settings, download_id: int, times: int = 1) -> None:
    """Put the download's task on the settings' queue, as the twin does (`times` > 1: a
    redelivery)."""
    app = create_celery(settings)
    try:
        for _ in range(times):
            app.send_task(DOWNLOAD_TASK, args=[download_id], queue=settings.celery_queue)
    finally:
        app.close()


@pytest.fixture
def worker_settings(settings: Settings, redis_url: str) -> Settings:
    # A queue of our own: nothing else on this Redis can take (or give) our messages.
    return settings.model_copy(
        update={
            "redis_url": redis_url,
            "celery_queue": f"figway-test-{uuid.uuid4().hex[:8]}",
            **FAST_JOBS,
        }
    )


@contextmanager
def started_worker(s: Settings, tmp_path: Path) -> Iterator[Worker]:
    """A `figway worker` on the settings' Redis and queue, stopped on the way out."""
    env = base_env(
        tmp_path,
        DATABASE_URL=s.database_url,
        REDIS_URL=s.redis_url or "",
        MEDIA_ROOT=str(s.media_dir),
        FIGWAY_CELERY_QUEUE=s.celery_queue,
        FIGWAY_DOWNLOAD_HEARTBEAT=str(s.download_heartbeat_s),
        FIGWAY_DOWNLOAD_RETRY_DELAY=str(s.download_retry_delay_s),
        FIGWAY_DOWNLOAD_ALLOW_HOSTS=",".join(s.download_allow_hosts),
    )
    with worker_in(env, tmp_path) as found:
        yield found


@contextmanager
def worker_in(env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    """A `figway worker` in the environment `env` (its log in `tmp_path`), stopped on the
    way out."""
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        # A session of its own, so a test can kill the worker with all its children.
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker", "--concurrency", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    found = Worker(process, log)
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def worker(worker_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    with started_worker(worker_settings, tmp_path) as found:
        yield found
