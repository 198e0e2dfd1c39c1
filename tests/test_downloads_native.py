"""The download queue's and the stream's data path: the statements and plans both sides run
(shared.services.downloads, shared.services.media), what a cancel does to its video, and
the twins' one checkout per request (none held while a file is sent).

The tests through `client` run on Flask, and on the twins in the gateway pass of `make test`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from fastapi_app.files import send_file
from shared.clock import utcnow
from shared.db.engine import sync_url
from shared.db.models import Download, Video
from shared.db.plan import arun, run
from shared.services.downloads import abandon_download, queue_download
from tests.factories import make_artist, make_video
from tests.test_native_path import _count_trips, _one_request, twins

__all__ = ["twins"]  # a fixture, bound here so pytest finds it

URL = "http://127.0.0.1:9/none.mp4"
LONG_AGO = utcnow() - timedelta(days=3)


def video_with(db_session: Session, **fields: Any) -> Video:
    fields.setdefault("url", URL)
    return make_video(db_session, make_artist(db_session), **fields)


def add_download(db_session: Session, video: Video, status: str) -> Download:
    # A running row's worker is alive (a fresh heartbeat): no reaper takes it meanwhile.
    now = utcnow() if status == "running" else None
    download = Download(
        video_id=video.id, status=status, progress=0, started_at=now, heartbeat_at=now
    )
    db_session.add(download)
    db_session.commit()
    return download


def fresh(db_session: Session, model: type[Any], key: int) -> Any:
    db_session.rollback()  # a new snapshot
    db_session.expire_all()
    return db_session.get(model, key)


@pytest.mark.parametrize(
    ("file_path", "settled"), [("videos/1/a.mp4", "downloaded"), (None, "wanted")]
)
@pytest.mark.parametrize("status", ["queued", "running"])
def test_a_cancel_gives_the_video_back_what_its_file_says(
    client, bearer, db_session, status, file_path, settled
):
    video = video_with(db_session, status="downloading", file_path=file_path)
    download = add_download(db_session, video, status)
    response = client.post(f"/api/downloads/{download.id}/cancel", headers=bearer("user"))
    assert response.status_code == 200, response.text
    body = response.get_json()
    assert body["status"] == "cancelled" and body["finished_at"] is not None
    # The answer is the row as written: what a poll reads next.
    assert client.get(f"/api/downloads/{download.id}", headers=bearer("user")).get_json() == body
    assert fresh(db_session, Video, video.id).status == settled


def test_a_cancel_leaves_a_video_another_download_still_holds(client, bearer, db_session):
    video = video_with(db_session, status="downloading")
    cancelled = add_download(db_session, video, "running")
    add_download(db_session, video, "queued")  # a row the one-per-video check would refuse
    response = client.post(f"/api/downloads/{cancelled.id}/cancel", headers=bearer("user"))
    assert response.status_code == 200, response.text
    assert fresh(db_session, Video, video.id).status == "downloading"


def test_a_cancel_leaves_a_video_that_is_not_downloading_alone(client, bearer, db_session):
    video = video_with(db_session, status="failed", updated_at=LONG_AGO)
    download = add_download(db_session, video, "queued")
    response = client.post(f"/api/downloads/{download.id}/cancel", headers=bearer("user"))
    assert response.status_code == 200, response.text
    after = fresh(db_session, Video, video.id)
    assert after.status == "failed" and after.updated_at == LONG_AGO


def test_an_abandoned_row_fails_with_its_video(db_session):
    video = video_with(db_session, status="downloading")
    queued = add_download(db_session, video, "queued")
    running = add_download(db_session, video, "running")
    assert run(db_session, abandon_download, queued.id, "never sent") is True
    db_session.commit()
    row = fresh(db_session, Download, queued.id)
    assert (row.status, row.error_message) == ("failed", "never sent")
    assert row.finished_at is not None
    assert fresh(db_session, Video, video.id).status == "failed"
    # Only a queued row is abandoned.
    assert run(db_session, abandon_download, queued.id, "again") is False
    assert run(db_session, abandon_download, running.id, "running") is False
    db_session.commit()
    assert fresh(db_session, Download, running.id).status == "running"
    assert fresh(db_session, Download, queued.id).error_message == "never sent"


def test_abandoning_leaves_a_video_already_failed_alone(db_session):
    video = video_with(db_session, status="failed", updated_at=LONG_AGO)
    queued = add_download(db_session, video, "queued")
    assert run(db_session, abandon_download, queued.id, "never sent") is True
    db_session.commit()
    assert fresh(db_session, Download, queued.id).status == "failed"
    assert fresh(db_session, Video, video.id).updated_at == LONG_AGO


def test_reading_the_queue_is_one_checkout_and_two_statements(
    twins, bearer, db_session, monkeypatch
):
    download = add_download(db_session, video_with(db_session), "completed")
    auth = bearer("user")
    with twins() as client:
        for path in ("/api/downloads", f"/api/downloads/{download.id}"):
            response, trips = _one_request(client, monkeypatch, path, headers=auth)
            assert response.json(), path
            # The caller by primary key, the rows; reads open no transaction to end.
            assert trips == {"checkout": 1, "statement": 2}, path


def test_a_stream_holds_no_connection_while_its_file_is_sent(
    twins, bearer, db_session, settings, monkeypatch
):
    path = settings.media_dir / "videos" / "stream.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00" * 1000)
    video = video_with(db_session, status="downloaded", file_path=str(path))
    held: list[int] = []

    async def sending(*args: Any, **kwargs: Any) -> Any:
        held.append(pool.checkedout())
        return await send_file(*args, **kwargs)

    # Where the route hands the response over to the file's sending.
    monkeypatch.setattr("fastapi_app.routers.streams.send_file", sending)
    auth = bearer("readonly")
    with twins() as client:
        pool = client.app.state.figway.engine.sync_engine.pool
        client.get(f"/api/videos/{video.id}/stream", headers=auth)  # the pool's first connection
        trips = _count_trips(client, monkeypatch)
        response = client.get(f"/api/videos/{video.id}/stream", headers=auth)
    assert response.status_code == 200 and response.content == path.read_bytes()
    assert held == [0, 0]
    assert trips == {"checkout": 1, "statement": 2}


Send = Callable[[str, dict[str, str]], tuple[int, Any]]


@pytest.mark.flask_side  # it patches the legacy view's lookup
def test_a_request_queued_while_another_was_authenticating_conflicts(
    client, bearer, db_session, settings, monkeypatch
):
    """Another request queues the video after this one looked its caller up, and before it
    locks the video: this one answers 409 and no second row is queued. (Its check of the
    active downloads is a plain read: in a snapshot taken at the caller's lookup, MariaDB
    would not show it the other request's row.)"""

    def send(path: str, auth: dict[str, str]) -> tuple[int, Any]:
        response = client.post(path, headers=auth)
        return response.status_code, response.get_json()

    _queued_while_authenticating(send, bearer, db_session, settings, monkeypatch)


# The twin called directly, the same in both passes of `make test`: a test of its own, so
# that the gateway pass (which keeps the tests asking for `client`) leaves it out.
def test_a_request_queued_while_another_was_authenticating_conflicts_on_the_twin(
    twins, bearer, db_session, settings, monkeypatch
):
    """The same race, on the FastAPI twin."""

    def send(path: str, auth: dict[str, str]) -> tuple[int, Any]:
        with twins() as twin:
            answer = twin.post(path, headers=auth)
            return answer.status_code, answer.json()

    _queued_while_authenticating(send, bearer, db_session, settings, monkeypatch)


def _queued_while_authenticating(
    send: Send, bearer: Any, db_session: Session, settings: Any, monkeypatch: Any
) -> None:
    video = video_with(db_session)
    auth = bearer("user")
    engine = create_engine(sync_url(settings.database_url))

    def interloper() -> None:
        with engine.connect() as other:
            run(other, queue_download, video.id, None)
            other.commit()

    def flask_run(*args: Any) -> Any:
        interloper()
        return run(*args)

    async def twin_arun(*args: Any) -> Any:
        await asyncio.to_thread(interloper)  # off the loop: the loop guard is on
        return await arun(*args)

    monkeypatch.setattr("legacy_flask.blueprints.downloads.run", flask_run)
    monkeypatch.setattr("fastapi_app.routers.downloads.arun", twin_arun)
    try:
        status, body = send(f"/api/videos/{video.id}/download", auth)
    finally:
        engine.dispose()
    assert status == 409, body
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Download)) == 1
