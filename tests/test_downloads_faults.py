"""Downloads when Redis fails: it restarts without its data, hangs, or drops every
connection for a while. The row is the truth throughout: a lost message is sent again, a
hung broker costs a 503 within FIGWAY_BROKER_TIMEOUT, and a live-progress socket falls
back to reading the row.

Faults come from servers the test starts itself: a private redis-server it kills and
restarts, or tests/faults.FaultProxy in front of the shared one.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from fastapi_app import create_fastapi_app
from fastapi_app.routers.downloads import NOT_QUEUED
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Download
from shared.jobs.reaper import requeue_lost_downloads
from tests import media_fixtures
from tests.conftest import service_missing
from tests.factories import make_artist, make_video
from tests.faults import FaultProxy
from tests.media_fixtures import MediaServer
from tests.polling import wait_for
from tests.servers import free_port, stop
from tests.test_downloads_twin import ENDED, queue, receive_to_the_end, row
from tests.workers import FAST_JOBS, Worker, started_worker

media_server = media_fixtures.media_server
settings = media_fixtures.settings_allowing_media_server  # downloads fetch from it
sample_video = media_fixtures.sample_video


class PrivateRedis:
    """A redis-server of this test's own, without persistence: a restart loses its data."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_missing("redis-server (for a private Redis)")
        self.binary: str = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # No snapshot, no append-only file: what it holds lives in memory only.
        no_persistence = ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *no_persistence],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            wait_for(lambda: _pings(client), timeout=10)
        finally:
            client.close()

    def crash(self) -> None:
        """SIGKILL: whatever it held in memory is gone."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop(self.process, timeout=5)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()


@contextmanager
def proxied_redis(redis_url: str) -> Iterator[tuple[FaultProxy, str]]:
    """A FaultProxy in front of the shared Redis, and the URL that goes through it."""
    target = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs
    with FaultProxy(target.get("host", "127.0.0.1"), target.get("port", 6379)) as proxy:
        yield proxy, f"redis://127.0.0.1:{proxy.port}/{target.get('db', 0)}"


def on_redis(settings: Settings, url: str, **update: Any) -> Settings:
    """The settings with REDIS_URL, fast jobs and a queue of this test's own."""
    queue_name = f"figway-test-{uuid.uuid4().hex[:8]}"
    fast = {"redis_url": url, "celery_queue": queue_name, **FAST_JOBS}
    return settings.model_copy(update={**fast, **update})


def queued_on_broker(settings: Settings) -> int:
    client = redis.Redis.from_url(settings.redis_url or "")
    try:
        return int(client.llen(settings.celery_queue))
    finally:
        client.close()


def wait_ended(db_session: Session, download_id: int, timeout: float = 60) -> Download:
    wait_for(lambda: row(db_session, download_id).status in ENDED or None, timeout=timeout)
    return row(db_session, download_id)


# --- Redis restarts without its data: the reaper sends the lost message again -----------


def test_reaper_sends_again_only_what_nobody_claimed_and_only_once(settings, db_session):
    video = make_video(db_session, make_artist(db_session), url="http://127.0.0.1:9/x.mp4")
    now = utcnow()
    long_ago = now - timedelta(seconds=settings.download_requeue_after_s + 1)
    lost = Download(video_id=video.id, status="queued", created_at=long_ago)
    fresh = Download(video_id=video.id, status="queued", created_at=now)
    retrying = Download(video_id=video.id, status="queued", created_at=long_ago, heartbeat_at=now)
    running = Download(video_id=video.id, status="running", created_at=long_ago)
    db_session.add_all([lost, fresh, retrying, running])
    db_session.commit()
    sessions = lambda: Session(db_session.get_bind())  # noqa: E731
    sent: list[int] = []

    # Two gateway processes' reapers in the same pass: one of them sends it.
    assert requeue_lost_downloads(sessions, settings, sent.append, now=now) == [lost.id]
    assert requeue_lost_downloads(sessions, settings, sent.append, now=now) == []
    assert sent == [lost.id]
    # A period later, still unclaimed: sent again.
    later = now + timedelta(seconds=settings.download_requeue_after_s + 1)
    again = requeue_lost_downloads(sessions, settings, sent.append, now=later)
    assert sorted(again) == sorted([lost.id, fresh.id, retrying.id])
    assert row(db_session, running.id).status == "running"


def test_a_failed_send_is_tried_again_at_the_next_pass(settings, db_session):
    video = make_video(db_session, make_artist(db_session), url="http://127.0.0.1:9/x.mp4")
    long_ago = utcnow() - timedelta(seconds=settings.download_requeue_after_s + 1)
    lost = Download(video_id=video.id, status="queued", created_at=long_ago)
    db_session.add(lost)
    db_session.commit()
    sessions = lambda: Session(db_session.get_bind())  # noqa: E731

    def broker_down(_download_id: int) -> None:
        raise ConnectionError("refused")

    assert requeue_lost_downloads(sessions, settings, broker_down) == []
    sent: list[int] = []
    assert requeue_lost_downloads(sessions, settings, sent.append) == [lost.id] == sent


def test_a_download_acknowledged_before_redis_lost_its_data_still_runs(
    settings, bearer, db_session, media_server: MediaServer, tmp_path: Path
):
    with private_redis() as server:
        s = on_redis(settings, server.url, download_requeue_after_s=3.0)
        auth = bearer("user")
        video = make_video(db_session, make_artist(db_session), url=media_server.url("sample.mp4"))
        with TestClient(create_fastapi_app(s)) as client:
            download_id = queue(client, video.id, auth)  # 202: acknowledged
            assert queued_on_broker(s) == 1  # no worker yet: the message waits in Redis
            server.crash()
            server.start()
            assert queued_on_broker(s) == 0  # lost
            with started_worker(s, tmp_path) as worker:
                done = wait_ended(db_session, download_id)
                assert done.status == "completed", (done.error_message, worker.output())
                assert (
                    client.post(f"/api/videos/{video.id}/download", headers=auth).status_code == 202
                )


def test_the_embedded_runner_picks_up_rows_a_stopped_process_left_queued(
    settings, db_session, media_server: MediaServer
):
    video = make_video(db_session, make_artist(db_session), url=media_server.url("sample.mp4"))
    s = settings.model_copy(update={**FAST_JOBS, "download_requeue_after_s": 0.5})
    # Queued and committed by a process that stopped before its thread claimed it.
    left = Download(video_id=video.id, status="queued", created_at=utcnow() - timedelta(seconds=5))
    db_session.add(left)
    db_session.commit()
    with TestClient(create_fastapi_app(s)):
        assert wait_ended(db_session, left.id).status == "completed"


# --- Redis hangs: the route answers 503 within the broker timeout -----------------------


def test_a_hung_broker_costs_a_503_within_the_timeout(
    settings, redis_url, bearer, db_session, media_server: MediaServer
):
    auth = bearer("user")
    video = make_video(db_session, make_artist(db_session), url=media_server.url("sample.mp4"))
    with proxied_redis(redis_url) as (proxy, url):
        s = on_redis(settings, url, broker_timeout_s=1.0)
        with TestClient(create_fastapi_app(s)) as client:
            proxy.hang()
            # Without a bound the request would wait for ever: give up on it after 10 s.
            rescue = threading.Timer(10, proxy.resume)
            rescue.start()
            started = time.monotonic()
            try:
                response = client.post(f"/api/videos/{video.id}/download", headers=auth)
            finally:
                rescue.cancel()
            took = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert response.json() == {"error": NOT_QUEUED, "code": "UNAVAILABLE"}
            assert took < s.broker_timeout_s + 2.0, took  # unbounded: the rescue at 10 s
            db_session.rollback()
            (failed,) = db_session.query(Download).all()
            assert failed.status == "failed" and failed.error_message == NOT_QUEUED
            proxy.resume()
            again = client.post(f"/api/videos/{video.id}/download", headers=auth)
            assert again.status_code == 202, again.text


# --- Redis drops every connection for a while: live progress reads the row --------------


def receive_until(ws: Any, done: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while not done(messages):
        messages.append(ws.receive_json())
    return messages


def test_live_progress_outlives_a_redis_blip(
    settings, redis_url, bearer, db_session, media_server: MediaServer, tmp_path: Path
):
    auth = bearer("user")
    video = make_video(db_session, make_artist(db_session), url=media_server.paced_url(8))
    with proxied_redis(redis_url) as (proxy, url):
        # A stale limit far from the heartbeat: the reaper is not what this test is about.
        s = on_redis(settings, url, download_stale_after_s=30.0)
        with TestClient(create_fastapi_app(s)) as client, started_worker(s, tmp_path) as worker:
            download_id = queue(client, video.id, auth)
            path = f"/ws/downloads/{download_id}"
            with client.websocket_connect(path, headers=auth) as ws:
                before = receive_until(ws, lambda m: m and m[-1]["progress"] > 0)
                proxy.down()
                # The row, read by the socket itself: progress goes on while Redis is away.
                assert receive_until(ws, lambda m: m and m[-1]["progress"] > before[-1]["progress"])
                with client.websocket_connect(path, headers=auth) as opened_during:
                    first = opened_during.receive_json()
                    assert first["status"] == "running", first
                    assert receive_until(
                        opened_during, lambda m: m and m[-1]["progress"] > first["progress"]
                    )
                    proxy.resume()
                    late = receive_to_the_end(opened_during)
                after = receive_to_the_end(ws)
            assert after[-1]["status"] == "completed", (after[-1], worker.output())
            assert late[-1] == after[-1]
            assert_one_line_about_publishing(worker)


def assert_one_line_about_publishing(worker: Worker) -> None:
    log = worker.output()
    assert "could not publish progress" not in log, log
    assert log.count("cannot publish on Redis") <= 1, log
