"""Phase 2 rolled out: a download through the gateway, queued on the FastAPI side and run by
a Celery worker on Redis or, without Redis, in the gateway process; its progress over the
WebSocket, the same figures a polling legacy client reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway import changes as ops
from gateway.asgi import create_figway
from shared.config import Settings
from shared.jobs.downloads import videos_dir
from tests import media_fixtures, workers
from tests.factories import make_artist, make_video
from tests.polling import wait_for
from tests.workers import FAST_JOBS

media_server = media_fixtures.media_server
settings = media_fixtures.settings_allowing_media_server  # downloads fetch from it
sample_video = media_fixtures.sample_video
worker_settings = workers.worker_settings
worker = workers.worker


@pytest.fixture(params=["embedded", "celery"])
def phase2_gateway(
    request: pytest.FixtureRequest, gw_settings: Settings
) -> Iterator[tuple[TestClient, Settings]]:
    """The gateway with phase 2 on FastAPI: embedded (no REDIS_URL), or with a worker."""
    settings = gw_settings.model_copy(update=FAST_JOBS)
    if request.param == "celery":
        queue = request.getfixturevalue("worker_settings")
        request.getfixturevalue("worker")  # started on the same database, queue and media
        settings = settings.model_copy(
            update={"redis_url": queue.redis_url, "celery_queue": queue.celery_queue}
        )
    gateway = create_figway(settings)
    ops.apply(gateway.watcher.path, ops.plan_phase(2, "fastapi"), twins=gateway.modern_keys)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        # The gateway picks the rollout up at its next look at the manifest.
        wait_for(lambda: client.get("/api/downloads").headers["x-served-by"] == "fastapi")
        yield client, settings


def test_download_through_the_gateway_with_live_progress(
    phase2_gateway, make_user: Callable[..., Any], db_session, media_server, sample_video: Path
):
    client, settings = phase2_gateway
    user = make_user("user")
    login = client.post(
        "/auth/login", json={"username": user.username, "password": "correct-horse-battery"}
    )
    assert login.status_code == 200
    video = make_video(db_session, make_artist(db_session), url=media_server.url("sample.mp4"))

    queued = client.post(f"/api/videos/{video.id}/download")
    assert queued.status_code == 202 and queued.headers["x-served-by"] == "fastapi"
    download_id = queued.json()["download_id"]
    messages = []
    # The login's session cookie, as a browser sends it with the upgrade request (the test
    # client's jar would not: it connects to another host name).
    cookie = {
        "cookie": f"{settings.session_cookie_name}={client.cookies[settings.session_cookie_name]}"
    }
    with client.websocket_connect(f"/ws/downloads/{download_id}", headers=cookie) as ws:
        while True:
            try:
                messages.append(ws.receive_json())
            except WebSocketDisconnect as closed:
                assert closed.code == 1000
                break
    final = messages[-1]
    assert final["status"] == "completed" and final["progress"] == 100, messages
    polled = client.get(f"/api/downloads/{download_id}")
    assert polled.headers["x-served-by"] == "fastapi" and polled.json() == final
    files = sorted(videos_dir(settings, video.id).iterdir())
    assert [f.read_bytes() for f in files] == [sample_video.read_bytes()]
