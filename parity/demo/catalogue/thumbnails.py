"""Phase 2: thumbnails.

Each side gets the same files in its own media dir (Scenario.media): a small sample MP4 to
take frames from, a cached frame, an uploaded artist image. Images are compared by format
and pixel size (compare.py), the ETag and Last-Modified embed each side's own mtime and
path and are no compared headers; conditional scenarios use values that do not depend on
them ("*", dates far off, a stale tag). The upload stores an absolute path, under each
side's own media dir: that column is the one volatile.
"""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime

from PIL import Image
from sqlalchemy.orm import Session

from parity.demo.catalogue.media import CLIP, FAR_FUTURE, FAR_PAST, T0, add_videos, sample_mp4
from parity.demo.scenario import Scenario
from shared.config import Settings
from shared.db.models import Artist

VIDEO = "GET /api/videos/<int:video_id>/thumbnail"
SIZED = "GET /api/videos/<int:video_id>/thumbnail/<size>"
ARTIST = "GET /api/artists/<int:artist_id>/thumbnail"
UPLOAD = "POST /api/artists/<int:artist_id>/thumbnail"
JUNK = "videos/5/broken.mp4"
CACHED = "thumbnails/videos/3.jpg"  # a frame cached for video 3, which has no file
ARTIST_IMAGE = "thumbnails/artists/1.jpg"
# The runner leaves max_upload_bytes at its default.
UPLOAD_LIMIT: int = Settings.model_fields["max_upload_bytes"].default


def _image(size: tuple[int, int], fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "teal").save(out, format=fmt)
    return out.getvalue()


def _media() -> dict[str, bytes]:
    return {
        CLIP: sample_mp4(),
        JUNK: b"this is not a video" * 100,
        CACHED: _image((64, 48)),
        ARTIST_IMAGE: _image((40, 30)),
    }


def _rows(session: Session, now: datetime) -> None:
    """Videos: 1 the clip; 2 no file; 3 no file but a cached frame; 4 a file gone;
    5 a file that is no video; 6 a path out of the media dir. Artists: 1 with an image,
    2 without, 3 whose image path leads out of the media dir."""
    session.add_all(
        [
            Artist(id=1, name="Framed", thumbnail_path=ARTIST_IMAGE, created_at=T0, updated_at=T0),
            Artist(id=2, name="Bare", created_at=T0, updated_at=T0),
            Artist(id=3, name="Escaper", thumbnail_path="../x.jpg", created_at=T0, updated_at=T0),
        ]
    )
    session.flush()
    paths = (CLIP, None, None, "videos/4/gone.mp4", JUNK, "../outside.mp4")
    add_videos(session, paths, duration=lambda i: 1 if i == 1 else None)


def _get(
    route: str,
    name: str,
    path: str,
    headers: dict[str, str] | None = None,
    role: str | None = "readonly",
) -> Scenario:
    return Scenario(
        route, name, path, role=role, headers=headers or {}, arrange=_rows, media=_media
    )


def _video(
    name: str,
    video_id: int = 1,
    headers: dict[str, str] | None = None,
    role: str | None = "readonly",
) -> Scenario:
    return _get(VIDEO, name, f"/api/videos/{video_id}/thumbnail", headers, role)


def _sized(
    name: str,
    size: str = "small",
    video_id: int = 1,
    headers: dict[str, str] | None = None,
    role: str | None = "readonly",
) -> Scenario:
    return _get(SIZED, name, f"/api/videos/{video_id}/thumbnail/{size}", headers, role)


def _artist(
    name: str,
    artist_id: int = 1,
    headers: dict[str, str] | None = None,
    role: str | None = "readonly",
) -> Scenario:
    return _get(ARTIST, name, f"/api/artists/{artist_id}/thumbnail", headers, role)


def _png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of huge dimensions that compresses to a few kilobytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def _upload(
    name: str,
    data: bytes | None,
    artist_id: int = 2,
    role: str | None = "manager",
    field: str = "file",
    filename: str = "image.png",
    content_type: str = "image/png",
    json: object = None,
) -> Scenario:
    files = None if data is None else {field: (filename, data, content_type)}
    return Scenario(
        UPLOAD,
        name,
        f"/api/artists/{artist_id}/thumbnail",
        role=role,
        files=files,
        json=json,
        arrange=_rows,
        media=_media,
        # The update's own clock reading, and a path under each side's own media dir.
        volatile=("updated_at", "rows.artists.*.updated_at", "rows.artists.*.thumbnail_path"),
    )


_PNG = _image((800, 400), "PNG", "RGBA")
_TRUNCATED = _image((300, 300), "PNG")[:200]

SCENARIOS: tuple[Scenario, ...] = (
    # A frame from the video.
    _video("anonymous is 401", role=None),
    _video("a frame is made and served"),
    _video("unknown video is 404", video_id=9999),
    _video("video without a file is 404", video_id=2),
    _video("a cached frame outlives the file", video_id=3),
    _video("file gone from disk is 404", video_id=4),
    _video("a file that is no video is 404", video_id=5),
    _video("a path out of the media dir is 404", video_id=6),
    _video("If-None-Match * is 304", headers={"If-None-Match": "*"}),
    _video("a stale If-None-Match is 200", headers={"If-None-Match": '"stale"'}),
    _video("If-Modified-Since ahead is 304", headers={"If-Modified-Since": FAR_FUTURE}),
    _video("If-Modified-Since long ago is 200", headers={"If-Modified-Since": FAR_PAST}),
    _video("the first 100 bytes", headers={"Range": "bytes=0-99"}),
    _video("a range past the end is 416", headers={"Range": "bytes=99999999-"}),
    # Its resized copies.
    _sized("anonymous is 401", role=None),
    _sized("small"),
    _sized("medium", "medium"),
    _sized("large", "large"),
    _sized("an unknown size is 400", "huge"),
    _sized("the size is checked before the video", "huge", video_id=9999),
    _sized("unknown video is 404", video_id=9999),
    _sized("video without a file is 404", video_id=2),
    _sized("resized from a cached frame", video_id=3),
    _sized("a file that is no video is 404", video_id=5),
    _sized("If-None-Match * is 304", headers={"If-None-Match": "*"}),
    # Artist images.
    _artist("anonymous is 401", role=None),
    _artist("the uploaded image"),
    _artist("a manager may view it too", role="manager"),
    _artist("an artist without an image is 404", artist_id=2),
    _artist("an image path out of the media dir is 404", artist_id=3),
    _artist("unknown artist is 404", artist_id=9999),
    _artist("If-Modified-Since ahead is 304", headers={"If-Modified-Since": FAR_FUTURE}),
    _artist("a range of it", headers={"Range": "bytes=10-"}),
    # Uploads.
    _upload("anonymous is 401", _PNG, role=None),
    _upload("user is 403", _PNG, role="user"),
    _upload("a PNG is stored as JPEG", _PNG),
    _upload("replacing an image", _image((40, 30), "GIF", "P"), artist_id=1),
    _upload("a WebP named .txt, sent as text", _image((90, 60), "WEBP"), content_type="text/plain"),
    _upload("unknown artist is 404", _PNG, artist_id=9999),
    _upload("text named .png is 400", b"just some text, honest\n" * 20),
    _upload("a truncated PNG is 400", _TRUNCATED),
    _upload("an empty file is 400", b""),
    _upload("a bomb past Pillow's limit is 400", _png_bomb(20000, 20000)),
    _upload("a bomb past ours is 400", _png_bomb(7000, 7000)),
    _upload("another field name is 400", _PNG, field="image"),
    _upload("a JSON body is 400", None, json={"file": "x"}),
    _upload("no body is 400", None),
    _upload("just over the upload limit is 413", b"\0" * (UPLOAD_LIMIT + 1)),
    _upload("over the request limit is 413", b"\0" * (UPLOAD_LIMIT + 200 * 1024)),
)
