"""Downloads: real yt-dlp against a loopback server, run in threads of the legacy app."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.db.models import Artist, Download, Video
from shared.jobs.downloads import MAX_ERROR_CHARS, run_download, videos_dir
from shared.jobs.threads import DownloadThreads
from shared.serializers import video_json, video_row_of
from tests import media_fixtures
from tests.conftest import assert_error
from tests.media_fixtures import wait_for
from tests.modes import MODERN_KEY

# Fixtures this module uses by name, bound here so pytest finds them.
media_server = media_fixtures.media_server
settings = media_fixtures.settings_allowing_media_server  # downloads fetch from it
sample_video = media_fixtures.sample_video

_names = itertools.count(1)


def make_video(db_session, url: str | None = "http://127.0.0.1:9/none.mp4", **fields) -> Video:
    artist = Artist(name=f"Artist {next(_names)}", genres=[])
    db_session.add(artist)
    db_session.flush()
    video = Video(artist_id=artist.id, title=f"Song {next(_names)}", url=url, **fields)
    db_session.add(video)
    db_session.commit()
    return video


def add_download(db_session, video: Video, status: str, **fields) -> Download:
    download = Download(video_id=video.id, status=status, progress=0, **fields)
    db_session.add(download)
    db_session.commit()
    return download


def fresh(db_session: Session, model: type[Any], key: int) -> Any:
    db_session.rollback()  # a new snapshot: the worker thread committed in between
    db_session.expire_all()
    return db_session.get(model, key)


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def runner_part() -> str:
    from legacy_flask.blueprints.downloads import RUNNER_PART  # Flask's side only

    return RUNNER_PART


@pytest.fixture
def runner(app):
    """The download threads serving this test (the app's own, or through the gateway the
    twin's embedded ones), joined before the app and its database go away."""

    def current() -> DownloadThreads:
        modern = app.extensions.get(MODERN_KEY)
        if modern is not None:
            found = modern.state.figway.downloads.runner
        else:
            found = app.extensions["figway"].parts[runner_part()]
        assert isinstance(found, DownloadThreads)
        return found

    yield current
    modern = app.extensions.get(MODERN_KEY)
    threads = (
        modern.state.figway.downloads.runner
        if modern is not None
        else app.extensions["figway"].parts.get(runner_part())
    )
    if threads is not None:
        assert threads.join(20), "download threads still running at teardown"


def status_of(client, download_id: int):
    body = client.get(f"/api/downloads/{download_id}").get_json()
    return body if body["status"] not in ("queued", "running") else None


def test_download_completes(
    client, login, db_session, settings, media_server, sample_video, runner
):
    login("user")
    video = make_video(db_session, url=media_server.url("sample.mp4"))
    response = client.post(f"/api/videos/{video.id}/download")
    assert response.status_code == 202
    body = response.get_json()
    assert body["success"] is True and isinstance(body["download_id"], int)

    done = wait_for(lambda: status_of(client, body["download_id"]))
    assert done["status"] == "completed", done
    assert done["progress"] == 100 and done["error_message"] is None
    assert done["file_size"] == sample_video.stat().st_size
    assert done["started_at"] and done["finished_at"]
    assert "file_path" not in done and "worker_id" not in done

    files = files_in(videos_dir(settings, video.id))
    assert len(files) == 1 and files[0].read_bytes() == sample_video.read_bytes()
    assert files[0].resolve().is_relative_to(settings.media_dir.resolve())
    row = fresh(db_session, Video, video.id)
    assert row.status == "downloaded" and row.file_size == done["file_size"]
    assert video_json(video_row_of(row, "x"))["has_file"] is True
    download = db_session.get(Download, body["download_id"])
    # Relative to MEDIA_ROOT, as every media path is stored.
    assert download.worker_id and settings.media_dir / download.file_path == files[0]
    assert row.file_path == download.file_path == f"videos/{video.id}/{files[0].name}"
    assert runner().join(10)


def test_download_of_missing_url_fails_cleanly(
    client, login, db_session, settings, media_server, runner
):
    login("user")
    video = make_video(db_session, url=media_server.url("missing.mp4"))
    download_id = client.post(f"/api/videos/{video.id}/download").get_json()["download_id"]
    done = wait_for(lambda: status_of(client, download_id))
    assert done["status"] == "failed"
    assert "404" in done["error_message"] and "Traceback" not in done["error_message"]
    assert done["finished_at"] is not None and done["progress"] < 100
    assert fresh(db_session, Video, video.id).status == "failed"
    assert files_in(videos_dir(settings, video.id)) == []


def test_a_long_error_keeps_its_start_and_its_reason(
    client, login, db_session, settings, media_server, runner
):
    login("user")
    name = "-".join(["a-very-long-video-name"] * 20) + ".mp4"  # 459 characters
    video = make_video(db_session, url=media_server.url(name))
    download_id = client.post(f"/api/videos/{video.id}/download").get_json()["download_id"]
    done = wait_for(lambda: status_of(client, download_id))
    message = done["error_message"]
    assert done["status"] == "failed" and len(message) <= MAX_ERROR_CHARS
    # What failed, then (a long name cut between words) why; yt-dlp's repeat of it is gone.
    assert message.startswith("[generic] a-very-long-video-name") and " … " in message
    assert message.endswith("HTTP Error 404: File not found"), message
    assert "caused by" not in message


def test_cancel_running_download_removes_partial_file(
    client, login, db_session, settings, media_server, runner
):
    login("user")
    video = make_video(db_session, url=media_server.slow_url())
    download_id = client.post(f"/api/videos/{video.id}/download").get_json()["download_id"]
    folder = videos_dir(settings, video.id)
    # Mid-way: running, with bytes of the partial file on disk.
    wait_for(lambda: any(p.stat().st_size > 0 for p in files_in(folder)))
    assert client.get(f"/api/downloads/{download_id}").get_json()["status"] == "running"
    assert fresh(db_session, Video, video.id).status == "downloading"

    response = client.post(f"/api/downloads/{download_id}/cancel")
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    assert runner().join(10), "the download thread did not stop"
    assert files_in(folder) == []
    row = fresh(db_session, Download, download_id)
    assert row.status == "cancelled" and row.finished_at is not None
    assert fresh(db_session, Video, video.id).status == "wanted"


def test_shutdown_stops_running_downloads(
    client, login, db_session, settings, media_server, runner
):
    login("user")
    video = make_video(db_session, url=media_server.slow_url())
    download_id = client.post(f"/api/videos/{video.id}/download").get_json()["download_id"]
    folder = videos_dir(settings, video.id)
    wait_for(lambda: any(p.stat().st_size > 0 for p in files_in(folder)))
    runner().close(timeout=10)  # what Legacy.close() does at shutdown
    assert runner().threads() == []
    assert files_in(folder) == []
    row = fresh(db_session, Download, download_id)
    assert row.status == "failed" and row.error_message == "Download was interrupted"
    assert fresh(db_session, Video, video.id).status == "failed"


def test_cancelled_before_start_never_runs(client, login, db_session, app, settings):
    login("user")
    video = make_video(db_session)
    queued = add_download(db_session, video, "queued")
    assert client.post(f"/api/downloads/{queued.id}/cancel").get_json()["status"] == "cancelled"
    # The job itself, as a worker would call it: it finds nothing to claim.
    run_download(app.extensions["figway"].sessions, settings, queued.id)
    row = fresh(db_session, Download, queued.id)
    assert row.status == "cancelled" and row.started_at is None
    assert fresh(db_session, Video, video.id).status == "wanted"


def count_downloads(db_session: Session) -> int:
    db_session.rollback()
    return db_session.scalar(select(func.count()).select_from(Download)) or 0


@pytest.mark.parametrize("active", ["queued", "running"])
def test_second_download_of_a_video_conflicts(client, login, db_session, active):
    login("user")
    video = make_video(db_session)
    add_download(db_session, video, active)
    assert_error(client.post(f"/api/videos/{video.id}/download"), 409, "CONFLICT")
    assert count_downloads(db_session) == 1


def test_video_without_url_is_rejected(client, login, db_session):
    login("user")
    video = make_video(db_session, url=None)
    assert_error(client.post(f"/api/videos/{video.id}/download"), 400, "VALIDATION_ERROR")
    assert count_downloads(db_session) == 0


def test_unknown_ids_are_404(client, login):
    login("manager")
    assert_error(client.post("/api/videos/9999/download"), 404, "NOT_FOUND")
    assert_error(client.get("/api/downloads/9999"), 404, "NOT_FOUND")
    assert_error(client.post("/api/downloads/9999/cancel"), 404, "NOT_FOUND")
    assert_error(client.delete("/api/downloads/9999"), 404, "NOT_FOUND")


def test_list_filters_by_status(client, login, db_session):
    login("user")
    video = make_video(db_session)
    ids = {
        s: add_download(db_session, video, s).id
        for s in ("completed", "failed", "cancelled", "queued")
    }
    listed = client.get("/api/downloads").get_json()["downloads"]
    assert [d["id"] for d in listed] == sorted(ids.values())
    assert set(listed[0]) >= {
        "id",
        "video_id",
        "status",
        "progress",
        "file_size",
        "error_message",
        "created_at",
        "started_at",
        "finished_at",
    }
    only = client.get("/api/downloads?status=failed").get_json()
    assert only == {"downloads": [d for d in listed if d["id"] == ids["failed"]]}
    assert client.get("/api/downloads?status=running").get_json() == {"downloads": []}
    assert_error(client.get("/api/downloads?status=bogus"), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_cancel_of_finished_download_conflicts(client, login, db_session, status):
    login("user")
    download = add_download(db_session, make_video(db_session), status, finished_at=utcnow())
    assert_error(client.post(f"/api/downloads/{download.id}/cancel"), 409, "CONFLICT")
    assert fresh(db_session, Download, download.id).status == status


@pytest.mark.parametrize("status", ["queued", "running"])
def test_delete_of_active_download_conflicts(client, login, db_session, status):
    login("manager")
    download = add_download(db_session, make_video(db_session), status)
    assert_error(client.delete(f"/api/downloads/{download.id}"), 409, "CONFLICT")
    assert fresh(db_session, Download, download.id) is not None


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_delete_finished_download(client, login, db_session, status):
    login("manager")
    video = make_video(db_session)
    download = add_download(db_session, video, status)
    response = client.delete(f"/api/downloads/{download.id}")
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert fresh(db_session, Download, download.id) is None
    assert fresh(db_session, Video, video.id) is not None


def test_anonymous_is_401(client, db_session):
    video = make_video(db_session)
    download = add_download(db_session, video, "completed")
    for method, path in [
        ("post", f"/api/videos/{video.id}/download"),
        ("get", "/api/downloads"),
        ("get", f"/api/downloads/{download.id}"),
        ("post", f"/api/downloads/{download.id}/cancel"),
        ("delete", f"/api/downloads/{download.id}"),
    ]:
        assert_error(getattr(client, method)(path), 401, "AUTH_REQUIRED")


def test_readonly_cannot_use_the_queue(client, login, db_session):
    video = make_video(db_session)
    download = add_download(db_session, video, "queued")
    login("readonly")
    assert_error(client.post(f"/api/videos/{video.id}/download"), 403, "FORBIDDEN")
    assert_error(client.get("/api/downloads"), 403, "FORBIDDEN")
    assert_error(client.get(f"/api/downloads/{download.id}"), 403, "FORBIDDEN")
    assert_error(client.post(f"/api/downloads/{download.id}/cancel"), 403, "FORBIDDEN")
    assert count_downloads(db_session) == 1
    assert fresh(db_session, Download, download.id).status == "queued"


def test_user_cannot_delete(client, login, db_session):
    download = add_download(db_session, make_video(db_session), "completed")
    login("user")
    assert_error(client.delete(f"/api/downloads/{download.id}"), 403, "FORBIDDEN")
    assert fresh(db_session, Download, download.id) is not None


def test_bearer_token_queues_too(client, bearer, db_session, media_server, runner):
    video = make_video(db_session, url=media_server.url("sample.mp4"))
    response = client.post(f"/api/videos/{video.id}/download", headers=bearer("user"))
    assert response.status_code == 202
    assert isinstance(runner(), DownloadThreads)
