"""The download twins: queued by the FastAPI side, run by a real Celery worker on the real
Redis or, without Redis, by threads of the same process (the same job code either way),
with live progress over WS /ws/downloads/<id>, retries, cancel, and the reaper.

The routes' answers against Flask's are the parity catalogue's part
(parity/demo/catalogue/downloads.py); the second pass of `make test` runs the legacy
download suite against these twins too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from fastapi_app import create_fastapi_app
from fastapi_app.routers.downloads import NOT_QUEUED
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Download, Video
from shared.jobs.downloads import Outcome, run_download, videos_dir
from shared.jobs.reaper import WORKER_LOST, reap_stale_downloads
from tests import media_fixtures, workers
from tests.factories import make_artist, make_video
from tests.loop_guard import guarding
from tests.media_fixtures import MediaServer, wait_for
from tests.workers import FAST_JOBS, Worker, send_download

media_server = media_fixtures.media_server
settings = media_fixtures.settings_allowing_media_server  # downloads fetch from it
sample_video = media_fixtures.sample_video
worker_settings = workers.worker_settings
worker = workers.worker

ENDED = ("completed", "failed", "cancelled")


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def row(db_session: Session, download_id: int) -> Download:
    db_session.rollback()  # a new snapshot: the job committed in between
    db_session.expire_all()
    found = db_session.get(Download, download_id)
    assert found is not None
    return found


@pytest.fixture
def embedded_settings(settings: Settings) -> Settings:
    return settings.model_copy(update=FAST_JOBS)


@pytest.fixture
def twin(embedded_settings: Settings) -> Iterator[TestClient]:
    """The FastAPI side alone, embedded mode (no REDIS_URL), its lifespan (and reaper) on."""
    with TestClient(create_fastapi_app(embedded_settings)) as client:
        yield client


@pytest.fixture
def celery_twin(worker_settings: Settings) -> Iterator[TestClient]:
    """The FastAPI side with REDIS_URL: downloads go to the worker fixture's queue."""
    with TestClient(create_fastapi_app(worker_settings)) as client:
        yield client


def queue(client: TestClient, video_id: int, auth: dict[str, str]) -> int:
    response = client.post(f"/api/videos/{video_id}/download", headers=auth)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["success"] is True
    download_id: int = body["download_id"]
    return download_id


def mid_download(
    client: TestClient,
    db_session: Session,
    settings: Settings,
    media_server: MediaServer,
    auth: dict[str, str],
) -> tuple[int, Path]:
    """A download of a video that never ends, queued and seen running with bytes on disk:
    its id and its folder."""
    video = make_video(db_session, make_artist(db_session), url=media_server.slow_url())
    download_id = queue(client, video.id, auth)
    folder = videos_dir(settings, video.id)
    wait_for(lambda: any(p.stat().st_size > 0 for p in files_in(folder)), timeout=60)
    return download_id, folder


def watch(client: TestClient, download_id: int, auth: dict[str, str]) -> list[dict[str, Any]]:
    """Every message of the WebSocket until the server closes it (with 1000)."""
    with client.websocket_connect(f"/ws/downloads/{download_id}", headers=auth) as ws:
        return receive_to_the_end(ws)


def receive_to_the_end(ws: Any) -> list[dict[str, Any]]:
    """The messages of an open WebSocket until the server closes it with 1000."""
    messages = []
    while True:
        try:
            messages.append(ws.receive_json())
        except WebSocketDisconnect as closed:
            assert closed.code == 1000, closed
            return messages


def assert_completed(
    messages: list[dict[str, Any]], client: TestClient, auth: dict[str, str], sample: Path
) -> None:
    final = messages[-1]
    assert final["status"] == "completed" and final["progress"] == 100, messages
    # What a polling legacy client sees, the same figures.
    assert client.get(f"/api/downloads/{final['id']}", headers=auth).json() == final
    assert final["file_size"] == sample.stat().st_size
    progress = [m["progress"] for m in messages]
    assert progress == sorted(progress), "progress went backwards"


def test_embedded_download_completes_with_live_progress(
    twin, bearer, db_session, embedded_settings, media_server, sample_video
):
    auth = bearer("user")
    video = make_video(db_session, make_artist(db_session), url=media_server.url("sample.mp4"))
    with guarding() as caught:
        download_id = queue(twin, video.id, auth)
        messages = watch(twin, download_id, auth)
    assert caught == [], caught
    assert_completed(messages, twin, auth, sample_video)
    files = files_in(videos_dir(embedded_settings, video.id))
    assert [f.read_bytes() for f in files] == [sample_video.read_bytes()]
    db_session.expire_all()
    assert db_session.get(Video, video.id).status == "downloaded"


def test_celery_download_completes_with_progress_over_redis(
    celery_twin, worker: Worker, bearer, db_session, worker_settings, media_server, sample_video
):
    auth = bearer("user")
    video = make_video(db_session, make_artist(db_session), url=media_server.url("sample.mp4"))
    download_id = queue(celery_twin, video.id, auth)
    messages = watch(celery_twin, download_id, auth)
    assert messages[-1]["status"] == "completed", (messages, worker.output())
    assert_completed(messages, celery_twin, auth, sample_video)
    assert row(db_session, download_id).worker_id  # run by the worker, which said who it was
    assert len(files_in(videos_dir(worker_settings, video.id))) == 1


def test_cancel_stops_a_running_download_and_removes_its_partial_file(
    twin, bearer, db_session, embedded_settings, media_server
):
    auth = bearer("user")
    download_id, folder = mid_download(twin, db_session, embedded_settings, media_server, auth)
    with twin.websocket_connect(f"/ws/downloads/{download_id}", headers=auth) as ws:
        assert ws.receive_json()["status"] == "running"
        cancelled = twin.post(f"/api/downloads/{download_id}/cancel", headers=auth)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        while (message := ws.receive_json())["status"] != "cancelled":
            assert message["status"] == "running"
    assert twin.app.state.figway.downloads.runner.join(10), "the download thread did not stop"
    assert files_in(folder) == []
    assert row(db_session, download_id).status == "cancelled"


def test_cancel_reaches_a_celery_worker_through_the_row(
    celery_twin, worker: Worker, bearer, db_session, worker_settings, media_server
):
    auth = bearer("user")
    download_id, folder = mid_download(celery_twin, db_session, worker_settings, media_server, auth)
    assert celery_twin.post(f"/api/downloads/{download_id}/cancel", headers=auth).status_code == 200
    wait_for(lambda: files_in(folder) == [] or None, timeout=10)
    assert row(db_session, download_id).status == "cancelled"


def test_killed_worker_leaves_a_failed_download_and_no_partial_file(
    celery_twin, worker: Worker, bearer, db_session, worker_settings, media_server
):
    auth = bearer("user")
    download_id, folder = mid_download(celery_twin, db_session, worker_settings, media_server, auth)
    assert row(db_session, download_id).status == "running"
    with celery_twin.websocket_connect(f"/ws/downloads/{download_id}", headers=auth) as ws:
        assert ws.receive_json()["status"] == "running"
        worker.kill()
        # Within the stale limit and one reaper interval (plus scheduling slack).
        limit = worker_settings.download_stale_after_s + worker_settings.download_reaper_interval_s
        while (message := ws.receive_json())["status"] == "running":
            pass
    assert message["status"] == "failed" and message["error_message"] == WORKER_LOST
    reaped = row(db_session, download_id)
    assert reaped.finished_at is not None and reaped.heartbeat_at is not None
    assert reaped.finished_at - reaped.heartbeat_at < timedelta(seconds=limit + 2)
    # The reaper decides by the row first (a worker that stamped in between keeps its
    # files), then removes them: a poll can see the row a moment before that.
    wait_for(lambda: files_in(folder) == [] or None, timeout=5)
    db_session.expire_all()
    assert db_session.get(Video, reaped.video_id).status == "failed"


def test_a_transient_failure_is_retried_to_completion(
    twin, bearer, db_session, media_server: MediaServer, sample_video
):
    auth = bearer("user")
    url = media_server.flaky_url(failures=1)
    video = make_video(db_session, make_artist(db_session), url=url)
    messages = watch(twin, queue(twin, video.id, auth), auth)
    assert_completed(messages, twin, auth, sample_video)
    assert media_server.requests_to(url) >= 2


def test_retries_are_bounded(
    twin, bearer, db_session, embedded_settings, media_server: MediaServer
):
    auth = bearer("user")
    url = media_server.flaky_url(failures=1000)
    video = make_video(db_session, make_artist(db_session), url=url)
    final = watch(twin, queue(twin, video.id, auth), auth)[-1]
    assert final["status"] == "failed" and "503" in final["error_message"], final
    # One request per attempt: the first and each retry.
    assert media_server.requests_to(url) == 1 + embedded_settings.download_max_retries


def test_a_client_error_is_not_retried(twin, bearer, db_session, media_server: MediaServer):
    auth = bearer("user")
    video = make_video(db_session, make_artist(db_session), url=media_server.url("missing.mp4"))
    final = watch(twin, queue(twin, video.id, auth), auth)[-1]
    assert final["status"] == "failed" and "404" in final["error_message"], final


def test_redelivered_task_runs_once(
    worker: Worker, worker_settings, db_session, media_server, sample_video
):
    """The same message twice (a redelivery): one file, one completed row."""
    video = make_video(db_session, make_artist(db_session), url=media_server.url("sample.mp4"))
    download = Download(video_id=video.id, status="queued", progress=0)
    db_session.add(download)
    db_session.commit()
    send_download(worker_settings, download.id, times=2)
    wait_for(lambda: row(db_session, download.id).status in ENDED or None, timeout=60)
    # The second delivery must find the row claimed: wait until the queue is drained.
    import redis

    broker = redis.Redis.from_url(worker_settings.redis_url)
    try:
        wait_for(lambda: broker.llen(worker_settings.celery_queue) == 0 or None, timeout=30)
    finally:
        broker.close()
    done = row(db_session, download.id)
    assert done.status == "completed", worker.output()
    assert [f.read_bytes() for f in files_in(videos_dir(worker_settings, video.id))] == [
        sample_video.read_bytes()
    ]
    sessions = lambda: Session(db_session.get_bind())  # noqa: E731
    assert run_download(sessions, worker_settings, download.id) is Outcome.SKIPPED


def test_reaper_fails_only_stale_running_downloads(settings, db_session):
    video = make_video(db_session, make_artist(db_session), url="http://127.0.0.1:9/x.mp4")
    now = utcnow()
    stale_at = now - timedelta(seconds=settings.download_stale_after_s + 1)
    fresh_at = now - timedelta(seconds=1)
    stale = Download(
        video_id=video.id, status="running", heartbeat_at=stale_at, started_at=stale_at
    )
    alive = Download(
        video_id=video.id, status="running", heartbeat_at=fresh_at, started_at=stale_at
    )
    queued = Download(video_id=video.id, status="queued")
    db_session.add_all([stale, alive, queued])
    db_session.commit()
    partial = videos_dir(settings, video.id) / f"{stale.id}.mp4.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half")
    kept = videos_dir(settings, video.id) / f"{alive.id}.mp4.part"
    kept.write_bytes(b"half")
    sessions = lambda: Session(db_session.get_bind())  # noqa: E731

    assert reap_stale_downloads(sessions, settings, now=now) == [stale.id]
    assert row(db_session, stale.id).status == "failed"
    assert row(db_session, stale.id).error_message == WORKER_LOST
    assert row(db_session, alive.id).status == "running"
    assert row(db_session, queued.id).status == "queued"
    assert not partial.exists() and kept.exists()
    assert reap_stale_downloads(sessions, settings, now=now) == []  # once only


def test_a_slow_live_download_is_not_reaped(
    twin, bearer, db_session, embedded_settings, media_server
):
    auth = bearer("user")
    download_id, _ = mid_download(twin, db_session, embedded_settings, media_server, auth)
    # Several reaper passes past the stale limit: its heartbeat keeps it.
    threading.Event().wait(embedded_settings.download_stale_after_s * 2)
    assert row(db_session, download_id).status == "running"
    twin.post(f"/api/downloads/{download_id}/cancel", headers=auth)


def test_broker_down_fails_the_row_instead_of_orphaning_it(
    settings, bearer, db_session, media_server
):
    nowhere = settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})
    auth = bearer("user")
    video = make_video(db_session, make_artist(db_session), url=media_server.url("sample.mp4"))
    with TestClient(create_fastapi_app(nowhere)) as client:
        response = client.post(f"/api/videos/{video.id}/download", headers=auth)
    assert response.status_code == 503
    assert response.json() == {"error": NOT_QUEUED, "code": "UNAVAILABLE"}
    db_session.rollback()
    (only,) = db_session.query(Download).all()
    assert only.status == "failed" and only.error_message == NOT_QUEUED


@pytest.mark.parametrize(
    ("role", "path", "code"),
    [
        (None, "/ws/downloads/{id}", 4401),
        ("readonly", "/ws/downloads/{id}", 4403),
        ("user", "/ws/downloads/9999", 4404),
    ],
)
def test_websocket_refusals_use_the_legacy_error_shape(twin, bearer, db_session, role, path, code):
    video = make_video(db_session, make_artist(db_session), url="http://127.0.0.1:9/x.mp4")
    download = Download(video_id=video.id, status="completed", progress=100)
    db_session.add(download)
    db_session.commit()
    auth = bearer(role) if role else {}
    with twin.websocket_connect(path.format(id=download.id), headers=auth) as ws:
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == code
    assert (
        set(error) == {"error", "code"}
        and error["code"]
        == {
            4401: "AUTH_REQUIRED",
            4403: "FORBIDDEN",
            4404: "NOT_FOUND",
        }[code]
    )


def test_websocket_of_a_finished_download_sends_it_and_closes(twin, bearer, db_session):
    video = make_video(db_session, make_artist(db_session), url="http://127.0.0.1:9/x.mp4")
    download = Download(video_id=video.id, status="failed", progress=40, error_message="x")
    db_session.add(download)
    db_session.commit()
    auth = bearer("user")
    (only,) = watch(twin, download.id, auth)
    assert only == twin.get(f"/api/downloads/{download.id}", headers=auth).json()
