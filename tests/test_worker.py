"""`figway worker`: a real Celery worker on the real Redis runs the shared download job."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.db.models import Download
from shared.jobs.celery_app import DOWNLOAD_TASK, create_celery
from tests import media_fixtures
from tests.factories import make_artist, make_video, table_rows
from tests.media_fixtures import wait_for
from tests.servers import base_env

media_server = media_fixtures.media_server
sample_video = media_fixtures.sample_video


@pytest.fixture
def worker_settings(settings, redis_url):
    # A queue of our own: nothing else on this Redis can take (or give) our messages.
    return settings.model_copy(
        update={"redis_url": redis_url, "celery_queue": f"figway-test-{uuid.uuid4().hex[:8]}"}
    )


@pytest.fixture
def worker(worker_settings, tmp_path):
    env = base_env(
        tmp_path,
        DATABASE_URL=worker_settings.database_url,
        REDIS_URL=worker_settings.redis_url,
        MEDIA_ROOT=str(worker_settings.media_dir),
        FIGWAY_CELERY_QUEUE=worker_settings.celery_queue,
    )
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker", "--concurrency", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    yield log
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_worker_downloads_through_redis(
    worker_settings, worker, db_session, media_server, sample_video: Path
):
    video = make_video(db_session, make_artist(db_session), url=media_server.url("sample.mp4"))
    download = Download(video_id=video.id, status="queued", progress=0)
    db_session.add(download)
    db_session.commit()
    app = create_celery(worker_settings)
    try:
        app.send_task(DOWNLOAD_TASK, args=[download.id], queue=worker_settings.celery_queue)
    finally:
        app.close()

    def finished() -> dict[str, Any] | None:
        row = next(r for r in table_rows(db_session, Download) if r["id"] == download.id)
        return row if row["status"] in ("completed", "failed") else None

    done = wait_for(finished, timeout=60)
    assert done["status"] == "completed", (done["error_message"], worker.read_text()[-2000:])
    assert done["progress"] == 100 and done["file_size"] == sample_video.stat().st_size
    assert Path(done["file_path"]).read_bytes() == sample_video.read_bytes()
    assert done["worker_id"]  # the worker said who it was


def test_worker_needs_redis(tmp_path):
    from tests.servers import figway

    done = figway("worker", env=base_env(tmp_path))
    assert done.returncode == 2 and "REDIS_URL" in done.stderr
