"""Streaming (Range, conditional, transcode) and thumbnails (ffmpeg frames, Pillow uploads)."""

from __future__ import annotations

import io
import itertools
import os
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image

from shared.config import Settings
from shared.db.models import Artist, Video
from tests import media_fixtures
from tests.asgi_client import multipart
from tests.conftest import assert_error
from tests.media_fixtures import place_video
from tests.modes import FLASK_FREE

if TYPE_CHECKING:
    from flask.testing import FlaskClient

# A fixture this module uses by name, bound here so pytest finds it.
sample_video = media_fixtures.sample_video

_names = itertools.count(1)


def buffered_client() -> type[FlaskClient]:
    """Flask's test client reading every response whole and closing it, as a server would:
    a file response left open is a ResourceWarning (an error here). Pass buffered=False to
    stream. (The Flask-free run's client buffers by default already.)"""
    from flask import testing  # Flask's side only

    class BufferedClient(testing.FlaskClient):
        def open(self, *args: Any, buffered: bool = True, **kwargs: Any) -> Any:
            return super().open(*args, buffered=buffered, **kwargs)

    return BufferedClient


@pytest.fixture
def client(app):
    if not FLASK_FREE:
        app.test_client_class = buffered_client()
    return app.test_client()


def make_artist(db_session, **fields) -> Artist:
    artist = Artist(name=f"Artist {next(_names)}", genres=[], **fields)
    db_session.add(artist)
    db_session.commit()
    return artist


def make_video(db_session, file_path: str | None = None, **fields) -> Video:
    artist = make_artist(db_session)
    video = Video(
        artist_id=artist.id,
        title=f"Song {next(_names)}",
        file_path=file_path,
        status="downloaded" if file_path else "wanted",
        **fields,
    )
    db_session.add(video)
    db_session.commit()
    return video


@pytest.fixture
def on_disk(db_session, settings, sample_video):
    """A video row whose file is a copy of the sample under media_dir."""
    video = make_video(db_session)
    video.file_path = str(place_video(settings, sample_video, video.id))
    db_session.commit()
    return video


# Streaming ---------------------------------------------------------------------------


def test_full_stream(client, login, on_disk, sample_video):
    login("readonly")
    response = client.get(f"/api/videos/{on_disk.id}/stream")
    assert response.status_code == 200
    assert response.mimetype == "video/mp4"
    assert response.data == sample_video.read_bytes()
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["ETag"] and response.headers["Last-Modified"]


def test_byte_ranges(client, login, on_disk, sample_video):
    login("readonly")
    data, url = sample_video.read_bytes(), f"/api/videos/{on_disk.id}/stream"
    size = len(data)

    first = client.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert first.data == data[:100]

    suffix = client.get(url, headers={"Range": "bytes=-100"})
    assert suffix.status_code == 206
    assert suffix.headers["Content-Range"] == f"bytes {size - 100}-{size - 1}/{size}"
    assert suffix.data == data[-100:]

    open_ended = client.get(url, headers={"Range": "bytes=100-"})
    assert open_ended.status_code == 206 and open_ended.data == data[100:]


def test_unsatisfiable_range_is_416(client, login, on_disk, sample_video):
    login("readonly")
    size = sample_video.stat().st_size
    response = client.get(
        f"/api/videos/{on_disk.id}/stream", headers={"Range": f"bytes={size + 10}-"}
    )
    assert_error(response, 416, "RANGE_NOT_SATISFIABLE")
    assert response.headers["Content-Range"] == f"bytes */{size}"


def test_if_none_match_is_304(client, login, on_disk):
    login("readonly")
    url = f"/api/videos/{on_disk.id}/stream"
    etag = client.get(url).headers["ETag"]
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.data == b""


def test_stream_404s(client, login, db_session, settings, tmp_path):
    login("readonly")
    assert_error(client.get("/api/videos/9999/stream"), 404, "NOT_FOUND")
    no_file = make_video(db_session)
    assert_error(client.get(f"/api/videos/{no_file.id}/stream"), 404, "NOT_FOUND")
    gone = make_video(db_session, file_path=str(settings.media_dir / "videos" / "gone.mp4"))
    assert_error(client.get(f"/api/videos/{gone.id}/stream"), 404, "NOT_FOUND")


def test_only_files_inside_media_dir_are_served(client, login, db_session, settings, tmp_path):
    login("readonly")
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"not yours")
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    for stored in (str(outside), "../secret.mp4", "/etc/passwd"):
        video = make_video(db_session, file_path=stored)
        assert_error(client.get(f"/api/videos/{video.id}/stream"), 404, "NOT_FOUND")
        assert_error(client.get(f"/api/videos/{video.id}/thumbnail"), 404, "NOT_FOUND")


def test_relative_path_is_under_media_dir(client, login, db_session, settings, sample_video):
    login("readonly")
    video = make_video(db_session)
    place_video(settings, sample_video, video.id)
    video.file_path = f"videos/{video.id}/clip.mp4"
    db_session.commit()
    assert client.get(f"/api/videos/{video.id}/stream").data == sample_video.read_bytes()


def test_stream_needs_login(client, on_disk):
    assert_error(client.get(f"/api/videos/{on_disk.id}/stream"), 401, "AUTH_REQUIRED")
    assert_error(client.get(f"/api/videos/{on_disk.id}/thumbnail"), 401, "AUTH_REQUIRED")
    assert_error(client.get(f"/api/videos/{on_disk.id}/thumbnail/small"), 401, "AUTH_REQUIRED")


def ffmpeg_children() -> list[int]:
    """Our own ffmpeg child processes."""
    return media_fixtures.ffmpeg_children(os.getpid())


def test_transcode_streams_fragmented_mp4(client, login, on_disk):
    login("readonly")
    response = client.get(f"/api/videos/{on_disk.id}/stream?transcode=1")
    assert response.status_code == 200 and response.mimetype == "video/mp4"
    assert response.data[4:8] == b"ftyp" and b"moof" in response.data
    assert ffmpeg_children() == []


def test_transcode_closed_early_leaves_no_process(client, login, on_disk):
    login("readonly")
    response = client.get(f"/api/videos/{on_disk.id}/stream?transcode=1", buffered=False)
    first = next(iter(response.response))
    assert first[4:8] == b"ftyp"
    assert len(ffmpeg_children()) == 1
    response.close()
    assert ffmpeg_children() == []


def test_transcodes_are_limited(client, login, on_disk, app):
    login("readonly")
    app.extensions["figway"].settings.max_transcodes = 1
    url = f"/api/videos/{on_disk.id}/stream?transcode=1"
    held = client.get(url, buffered=False)
    assert held.status_code == 200
    refused = client.get(url)
    assert_error(refused, 503, "UNAVAILABLE")
    assert refused.headers["Retry-After"].isdigit()
    held.close()  # never read: closing still frees the slot and the process
    assert ffmpeg_children() == []
    assert client.get(url).status_code == 200


def test_bad_transcode_flag_is_400(client, login, on_disk):
    login("readonly")
    response = client.get(f"/api/videos/{on_disk.id}/stream?transcode=maybe")
    assert_error(response, 400, "VALIDATION_ERROR")


# Video thumbnails --------------------------------------------------------------------


def jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        image.load()
        return image.size


def test_thumbnail_made_from_a_frame_and_cached(client, login, on_disk, settings):
    login("readonly")
    response = client.get(f"/api/videos/{on_disk.id}/thumbnail")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert jpeg_size(response.data) == (320, 240)
    cached = settings.media_dir / "thumbnails" / "videos" / f"{on_disk.id}.jpg"
    assert cached.read_bytes() == response.data
    again = client.get(
        f"/api/videos/{on_disk.id}/thumbnail", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temp left


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("small", (120, 90)),
        ("medium", (240, 180)),
        ("large", (480, 360)),
    ],
)
def test_sized_thumbnails_fit_their_box(client, login, on_disk, settings, size, expected):
    login("readonly")
    response = client.get(f"/api/videos/{on_disk.id}/thumbnail/{size}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert jpeg_size(response.data) == expected
    cached = settings.media_dir / "thumbnails" / "videos" / f"{on_disk.id}_{size}.jpg"
    assert cached.read_bytes() == response.data


def test_unknown_size_is_400(client, login, on_disk):
    login("readonly")
    assert_error(client.get(f"/api/videos/{on_disk.id}/thumbnail/huge"), 400, "VALIDATION_ERROR")


def test_thumbnail_404s(client, login, db_session, settings):
    login("readonly")
    assert_error(client.get("/api/videos/9999/thumbnail"), 404, "NOT_FOUND")
    assert_error(client.get("/api/videos/9999/thumbnail/small"), 404, "NOT_FOUND")
    bare = make_video(db_session)
    assert_error(client.get(f"/api/videos/{bare.id}/thumbnail"), 404, "NOT_FOUND")
    assert_error(client.get(f"/api/videos/{bare.id}/thumbnail/small"), 404, "NOT_FOUND")
    assert not (settings.media_dir / "thumbnails" / "videos").exists() or not any(
        (settings.media_dir / "thumbnails" / "videos").iterdir()
    )


def test_cached_thumbnail_outlives_the_file(client, login, db_session, settings):
    login("readonly")
    video = make_video(db_session)
    cached = settings.media_dir / "thumbnails" / "videos" / f"{video.id}.jpg"
    cached.parent.mkdir(parents=True)
    Image.new("RGB", (64, 48), "red").save(cached, format="JPEG")
    assert jpeg_size(client.get(f"/api/videos/{video.id}/thumbnail").data) == (64, 48)
    assert jpeg_size(client.get(f"/api/videos/{video.id}/thumbnail/small").data) == (120, 90)


def test_unreadable_video_gives_404_and_no_partial_file(client, login, db_session, settings):
    login("readonly")
    video = make_video(db_session)
    bogus = settings.media_dir / "videos" / str(video.id) / "broken.mp4"
    bogus.parent.mkdir(parents=True)
    bogus.write_bytes(b"this is not a video" * 100)
    video.file_path = str(bogus)
    db_session.commit()
    assert_error(client.get(f"/api/videos/{video.id}/thumbnail"), 404, "NOT_FOUND")
    assert list((settings.media_dir / "thumbnails" / "videos").iterdir()) == []


# Artist images -----------------------------------------------------------------------


def png(size=(800, 400), mode="RGBA", color=(10, 200, 30, 128)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format="PNG")
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A real, valid 1-bit PNG of huge dimensions that compresses to a few kilobytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def upload(
    client,
    artist_id: int,
    data: bytes,
    filename: str = "image.png",
    content_type: str = "image/png",
    field: str = "file",
):
    # Encoded in memory: the test client's own encoder spools big bodies to a temp file
    # that nothing closes (a ResourceWarning, so an error here).
    body, body_type = multipart([(field, (io.BytesIO(data), filename, content_type))])
    return client.post(f"/api/artists/{artist_id}/thumbnail", data=body, content_type=body_type)


def artists_dir(settings: Settings) -> Path:
    return settings.media_dir / "thumbnails" / "artists"


def assert_nothing_stored(db_session, settings, artist: Artist) -> None:
    folder = artists_dir(settings)
    assert not folder.exists() or list(folder.iterdir()) == []
    db_session.rollback()
    db_session.expire_all()
    assert db_session.get(Artist, artist.id).thumbnail_path is None


def test_upload_png_is_stored_as_jpeg(client, login, db_session, settings):
    login("manager")
    artist = make_artist(db_session)
    db_session.add(Video(artist_id=artist.id, title="One"))
    db_session.commit()
    response = upload(client, artist.id, png())
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == artist.id and body["video_count"] == 1 and body["name"] == artist.name
    assert "thumbnail_path" not in body
    stored = artists_dir(settings) / f"{artist.id}.jpg"
    assert jpeg_size(stored.read_bytes()) == (512, 256)
    assert list(artists_dir(settings).iterdir()) == [stored]
    db_session.expire_all()
    # Relative to MEDIA_ROOT, as every media path is stored.
    assert db_session.get(Artist, artist.id).thumbnail_path == f"thumbnails/artists/{artist.id}.jpg"

    served = client.get(f"/api/artists/{artist.id}/thumbnail")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.data == stored.read_bytes()


def test_small_upload_is_not_enlarged_and_replaces_the_old(client, login, db_session, settings):
    login("manager")
    artist = make_artist(db_session)
    assert upload(client, artist.id, png()).status_code == 200
    assert upload(client, artist.id, png((40, 30), "P", 3)).status_code == 200
    stored = artists_dir(settings) / f"{artist.id}.jpg"
    assert jpeg_size(stored.read_bytes()) == (40, 30)
    assert list(artists_dir(settings).iterdir()) == [stored]


def test_text_named_png_is_rejected(client, login, db_session, settings):
    login("manager")
    artist = make_artist(db_session)
    response = upload(client, artist.id, b"just some text, honest\n" * 20)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert_nothing_stored(db_session, settings, artist)


def test_truncated_png_is_rejected(client, login, db_session, settings):
    login("manager")
    artist = make_artist(db_session)
    whole = png((300, 300), "RGB", (1, 2, 3))
    assert_error(upload(client, artist.id, whole[: len(whole) // 2]), 400, "VALIDATION_ERROR")
    assert_error(upload(client, artist.id, b""), 400, "VALIDATION_ERROR")
    assert_nothing_stored(db_session, settings, artist)


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (20000, 20000),  # past Pillow's error limit
        (10000, 10000),  # past Pillow's warning limit only
        (7000, 7000),  # under Pillow's limits, over ours
    ],
)
def test_decompression_bombs_are_rejected(client, login, db_session, settings, width, height):
    login("manager")
    artist = make_artist(db_session)
    bomb = png_bomb(width, height)
    assert len(bomb) < 200_000
    assert_error(upload(client, artist.id, bomb), 400, "VALIDATION_ERROR")
    assert_nothing_stored(db_session, settings, artist)


def test_too_large_upload_is_413(client, login, db_session, settings):
    login("manager")
    artist = make_artist(db_session)
    just_over = b"\0" * (settings.max_upload_bytes + 1)
    assert_error(upload(client, artist.id, just_over), 413, "TOO_LARGE")
    far_over = b"\0" * (settings.max_upload_bytes + 200 * 1024)
    assert_error(upload(client, artist.id, far_over), 413, "TOO_LARGE")
    assert_nothing_stored(db_session, settings, artist)


def test_missing_file_field_is_400(client, login, db_session, settings):
    login("manager")
    artist = make_artist(db_session)
    assert_error(upload(client, artist.id, png(), field="other"), 400, "VALIDATION_ERROR")
    assert_error(
        client.post(f"/api/artists/{artist.id}/thumbnail", json={"file": "x"}),
        400,
        "VALIDATION_ERROR",
    )
    assert_nothing_stored(db_session, settings, artist)


def test_artist_thumbnail_404s(client, login, db_session, settings):
    login("manager")
    assert_error(upload(client, 9999, png()), 404, "NOT_FOUND")
    assert_error(client.get("/api/artists/9999/thumbnail"), 404, "NOT_FOUND")
    artist = make_artist(db_session)
    assert_error(client.get(f"/api/artists/{artist.id}/thumbnail"), 404, "NOT_FOUND")
    assert not artists_dir(settings).exists()


def test_artist_thumbnail_auth(client, login, db_session, settings):
    artist = make_artist(db_session)
    assert_error(upload(client, artist.id, png()), 401, "AUTH_REQUIRED")
    assert_error(client.get(f"/api/artists/{artist.id}/thumbnail"), 401, "AUTH_REQUIRED")
    login("user")
    assert_error(upload(client, artist.id, png()), 403, "FORBIDDEN")
    assert_nothing_stored(db_session, settings, artist)


def test_readonly_may_view_artist_image(client, login, db_session, settings):
    artist = make_artist(db_session)
    stored = artists_dir(settings) / f"{artist.id}.jpg"
    stored.parent.mkdir(parents=True)
    Image.new("RGB", (10, 10)).save(stored, format="JPEG")
    artist.thumbnail_path = str(stored)
    db_session.commit()
    login("readonly")
    response = client.get(f"/api/artists/{artist.id}/thumbnail")
    assert response.status_code == 200 and response.data == stored.read_bytes()
