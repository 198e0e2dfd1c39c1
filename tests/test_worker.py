"""`figway worker`: a real Celery worker on the real Redis runs the shared download job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.db.models import Download
from tests import media_fixtures, workers
from tests.factories import make_artist, make_video, table_rows
from tests.media_fixtures import wait_for
from tests.servers import base_env
from tests.workers import send_download

media_server = media_fixtures.media_server
settings = media_fixtures.settings_allowing_media_server  # downloads fetch from it
sample_video = media_fixtures.sample_video
worker_settings = workers.worker_settings
worker = workers.worker


def test_worker_downloads_through_redis(
    worker_settings, worker, db_session, media_server, sample_video: Path
):
    video = make_video(db_session, make_artist(db_session), url=media_server.url("sample.mp4"))
    download = Download(video_id=video.id, status="queued", progress=0)
    db_session.add(download)
    db_session.commit()
    send_download(worker_settings, download.id)

    def finished() -> dict[str, Any] | None:
        row = next(r for r in table_rows(db_session, Download) if r["id"] == download.id)
        return row if row["status"] in ("completed", "failed") else None

    done = wait_for(finished, timeout=60)
    assert done["status"] == "completed", (done["error_message"], worker.output())
    assert done["progress"] == 100 and done["file_size"] == sample_video.stat().st_size
    stored = worker_settings.media_dir / done["file_path"]  # relative to MEDIA_ROOT
    assert stored.read_bytes() == sample_video.read_bytes()
    assert done["worker_id"]  # the worker said who it was


def test_worker_needs_redis(tmp_path):
    from tests.servers import figway

    done = figway("worker", env=base_env(tmp_path))
    assert done.returncode == 2 and "REDIS_URL" in done.stderr
