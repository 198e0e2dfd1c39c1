"""The demo library as a new user meets it: seeded from the fake provider, its media under a
MEDIA_ROOT given relative to the working folder (the default, var/media), served by both sides.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from shared.config import Settings
from shared.db.models import Artist, Download, Video
from shared.demo import seed_demo
from shared.fakes.metadata_provider import build_catalogue
from shared.jobs.downloads import run_download
from tests.media_fixtures import allow_host, wait_for
from tests.provider import provider_url

__all__ = ["provider_url"]  # a fixture, used by name

JPEG_START = b"\xff\xd8"
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


@pytest.fixture
def settings(
    settings: Settings, provider_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """MEDIA_ROOT relative, as `make run` has it; the fake provider; its host allowed."""
    monkeypatch.chdir(tmp_path)
    relative = settings.model_copy(
        update={"media_root": Path("var/media"), "metadata_base_url": provider_url}
    )
    return allow_host(relative, provider_url)


def seed(app: Any, settings: Settings) -> None:
    seed_demo(settings, app.extensions["figway"].sessions, say=lambda _line: None)


def test_every_seeded_video_with_a_file_streams_and_has_a_thumbnail(app, client, login, settings):
    seed(app, settings)
    login("user")
    videos = client.get("/api/videos", query_string={"limit": 50}).get_json()["videos"]
    with_file = [v for v in videos if v["has_file"]]
    assert len(with_file) == 3
    for video in with_file:
        stream = client.get(f"/api/videos/{video['id']}/stream", headers={"Range": "bytes=0-99"})
        assert stream.status_code == 206, stream.get_data()
        assert stream.headers["Content-Type"] == "video/mp4"
        assert len(stream.get_data()) == 100 and stream.get_data()[4:8] == b"ftyp"
        stream.close()
        thumb = client.get(f"/api/videos/{video['id']}/thumbnail")
        assert thumb.status_code == 200, thumb.get_data()
        assert thumb.get_data().startswith(JPEG_START)
        thumb.close()


def test_media_paths_are_stored_relative_to_the_media_root(flask_app, db_session, settings):
    seed(flask_app, settings)
    stored = db_session.scalars(select(Video.file_path).where(Video.file_path.is_not(None)))
    for path in stored:
        assert path is not None and path.startswith("videos/") and not Path(path).is_absolute()
        assert (settings.media_dir / path).is_file()


def by_name(db_session: Any, name: str) -> Artist:
    artist = db_session.scalars(select(Artist).where(Artist.name == name)).one()
    assert isinstance(artist, Artist)
    return artist


def test_an_uploaded_artist_image_is_then_shown(app, client, login, db_session, settings):
    seed(app, settings)
    artist = by_name(db_session, "Björk")
    login("manager")
    upload = client.post(
        f"/api/artists/{artist.id}/thumbnail",
        data={"file": (io.BytesIO(PNG_1PX), "a.png")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 200, upload.get_data()
    shown = client.get(f"/api/artists/{artist.id}/thumbnail")
    assert shown.status_code == 200 and shown.get_data().startswith(JPEG_START)
    shown.close()
    db_session.refresh(artist)
    assert artist.thumbnail_path == f"thumbnails/artists/{artist.id}.jpg"


def test_the_provider_finds_the_seeded_artists(app, client, bearer, db_session, settings):
    seed(app, settings)
    artist = by_name(db_session, "Daft Punk")
    first = db_session.scalars(select(Video).where(Video.title == "Around the World")).one()
    headers = bearer("manager")
    found = client.get("/api/metadata/search?q=Daft%20Punk", headers=headers)
    assert found.status_code == 200, found.get_data()
    daft_punk = build_catalogue().by_name("Daft Punk")
    assert [r["imvdb_id"] for r in found.get_json()["results"]] == [daft_punk.id]
    refreshed = client.post(f"/api/videos/{first.id}/refresh-metadata", headers=headers)
    assert refreshed.status_code == 200, refreshed.get_data()
    assert refreshed.get_json()["title"] == "Around the World"
    discovered = client.post(f"/api/artists/{artist.id}/videos/discover", headers=headers)
    assert discovered.status_code == 200, discovered.get_data()
    body = discovered.get_json()
    assert body["added"] == 0 and body["skipped"] == len(daft_punk.video_ids)


def test_a_demo_download_follows_the_provider_configured_now(
    app, client, login, db_session, settings
):
    # Seeded while the provider lived elsewhere: the download still finds today's.
    seed(app, settings.model_copy(update={"metadata_base_url": "http://127.0.0.1:9"}))
    login("user")
    wanted = db_session.scalars(select(Video).where(Video.status == "wanted")).first()
    assert wanted is not None
    queued = client.post(f"/api/videos/{wanted.id}/download")
    assert queued.status_code == 202, queued.get_data()
    download_id = queued.get_json()["download_id"]

    def finished() -> dict[str, Any] | None:
        state: dict[str, Any] = client.get(f"/api/downloads/{download_id}").get_json()
        return None if state["status"] in ("queued", "running") else state

    assert wait_for(finished, timeout=60)["status"] == "completed"
    stream = client.get(f"/api/videos/{wanted.id}/stream")
    assert stream.status_code == 200 and stream.get_data()[4:8] == b"ftyp"
    stream.close()


def test_a_download_leaves_no_nested_folders(flask_app, db_session, settings):
    seed(flask_app, settings)
    wanted = db_session.scalars(select(Video).where(Video.status == "wanted")).first()
    assert wanted is not None
    download = Download(video_id=wanted.id, status="queued", progress=0)
    db_session.add(download)
    db_session.commit()
    run_download(flask_app.extensions["figway"].sessions, settings, download.id)
    db_session.expire_all()
    done = db_session.get(Download, download.id)
    assert done is not None and done.status == "completed", done.error_message
    assert done.file_path == f"videos/{wanted.id}/{download.id}.mp4"
    folder = settings.media_dir / "videos" / str(wanted.id)
    assert sorted(p.name for p in folder.iterdir()) == [f"{download.id}.mp4"]
    empty = [d for d in settings.media_dir.rglob("*") if d.is_dir() and not any(d.iterdir())]
    assert empty == []
