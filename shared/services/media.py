"""Media files: which file a video or artist may serve, and the thumbnail cache.

The thumbnails' database work is Core: a statement and a function of its row for the
reads (each side executes the statement on its own connection), a plan
(shared/db/plan.py) for the upload's write. The file and image work is kept in separate
functions without any database, because it blocks: the FastAPI side runs those in a
worker thread, never on the event loop.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db.plan import Plan
from shared.errors import NotFound, TooLarge, Unavailable, ValidationFailed
from shared.media import images
from shared.media.ffmpeg import FfmpegFailed, FfmpegMissing, extract_frame, ffmpeg_exe
from shared.media.paths import from_stored, media_root, to_stored
from shared.serializers import Row, artist_row_json
from shared.services import valid_id
from shared.services.videos import ARTISTS, VIDEOS, video_params

# `?transcode=` of a stream: a word of either list, in any case; absent or blank is no.
TRANSCODE_YES, TRANSCODE_NO = ("1", "true", "yes"), ("0", "false", "no")
TRANSCODE_WORDS = TRANSCODE_YES + TRANSCODE_NO
_VIDEO_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".flv": "video/x-flv",
    ".ts": "video/mp2t",
}


def media_file(settings: Settings, stored: str | None) -> Path | None:
    """The stored path as an existing file inside media_dir, else None (never outside it)."""
    path = from_stored(settings.media_dir, stored)
    return path if path is not None and path.is_file() else None


def video_mimetype(path: Path) -> str:
    suffix = path.suffix.lower()
    return _VIDEO_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "video/mp4"


# A stream: the stored path (one indexed read, bound at execution: {"video_id": ...}),
# then the file. Both sides run VIDEO_FILE_STMT with video_params (a 404 for an id that
# cannot exist) and answer with stored_video_file, then existing_video_file.
VIDEO_FILE_STMT = select(VIDEOS.c.file_path).where(VIDEOS.c.id == bindparam("video_id"))


def stored_video_file(row: Any) -> str | None:
    """The stored path from VIDEO_FILE_STMT's row (None: no file); 404 without a row."""
    if row is None:
        raise NotFound("Video not found")
    stored: str | None = row.file_path
    return stored


def existing_video_file(settings: Settings, stored: str | None) -> Path:
    """The file to send, or 404. Filesystem calls (stat, resolve): off the loop."""
    path = media_file(settings, stored)
    if path is None:
        raise NotFound("Video has no file")
    return path


def video_file(session: Session, settings: Settings, video_id: int) -> Path:
    """The legacy side's stream lookup: the twin's statement, on its Session."""
    row = session.execute(VIDEO_FILE_STMT, video_params(video_id)).one_or_none()
    return existing_video_file(settings, stored_video_file(row))


# Video thumbnails -------------------------------------------------------------------


@dataclass(frozen=True)
class FrameSource:
    """What the (blocking) thumbnail maker needs, read from the database beforehand."""

    video_id: int
    file: Path | None
    at_seconds: float


FRAME_STMT = select(VIDEOS.c.id, VIDEOS.c.duration, VIDEOS.c.file_path).where(
    VIDEOS.c.id == bindparam("video_id")
)


def frame_params(video_id: int) -> dict[str, int]:
    """FRAME_STMT's parameters; an id out of range cannot exist (nor reach the driver)."""
    if not valid_id(video_id):
        raise NotFound("Video not found")
    return {"video_id": video_id}


def frame_source(settings: Settings, row: Row | None) -> FrameSource:
    """From FRAME_STMT's row (None: no such video). Its media_file is a stat or two."""
    if row is None:
        raise NotFound("Video not found")
    # A third in, capped: past title cards, and never past the end of a short clip.
    duration = row["duration"]
    at = min(duration / 3, 30.0) if duration else 1.0
    return FrameSource(row["id"], media_file(settings, row["file_path"]), at)


def thumbnail_box(size: str) -> tuple[int, int]:
    box = images.VIDEO_THUMBNAIL_SIZES.get(size)
    if box is None:
        choices = ", ".join(images.VIDEO_THUMBNAIL_SIZES)
        raise ValidationFailed(f"size must be one of: {choices}")
    return box


def video_thumbnail_path(settings: Settings, video_id: int, size: str | None = None) -> Path:
    name = f"{video_id}.jpg" if size is None else f"{video_id}_{size}.jpg"
    return media_root(settings.media_dir) / "thumbnails" / "videos" / name


def _fresh(cached: Path, source: Path | None) -> bool:
    """Cached and not older than its source (a re-download brings a new frame)."""
    if not cached.is_file():
        return False
    return source is None or cached.stat().st_mtime >= source.stat().st_mtime


def ensure_video_thumbnail(settings: Settings, source: FrameSource) -> Path:
    """The cached frame, made with ffmpeg on first use. Blocking."""
    target = video_thumbnail_path(settings, source.video_id)
    if _fresh(target, source.file):
        return target
    if source.file is None:
        raise NotFound("Video has no file and no thumbnail")
    with _temp_beside(target) as temp:
        try:
            extract_frame(ffmpeg_exe(settings), source.file, temp, source.at_seconds)
        except FfmpegMissing as exc:
            raise Unavailable("Thumbnails need ffmpeg, which is not installed") from exc
        except FfmpegFailed as exc:
            raise NotFound("No frame could be read from the video file") from exc
        os.replace(temp, target)
    return target


def ensure_sized_thumbnail(settings: Settings, source: FrameSource, size: str) -> Path:
    """A resized copy of the cached frame, cached per size. Blocking."""
    box = thumbnail_box(size)
    base = ensure_video_thumbnail(settings, source)
    target = video_thumbnail_path(settings, source.video_id, size)
    if _fresh(target, base):
        return target
    try:
        data = images.fit_jpeg(base.read_bytes(), box)
    except images.ImageRejected as exc:
        raise NotFound("The cached thumbnail is unreadable") from exc
    write_atomic(target, data)
    return target


# Artist images ----------------------------------------------------------------------


# The artist's stored image (no row: no such artist).
ARTIST_IMAGE_STMT = select(ARTISTS.c.thumbnail_path).where(ARTISTS.c.id == bindparam("artist_id"))
# The artist with its video count, for the upload's answer: one round trip.
_ARTIST_COUNTED_STMT = select(
    ARTISTS,
    select(func.count(VIDEOS.c.id))
    .where(VIDEOS.c.artist_id == ARTISTS.c.id)
    .scalar_subquery()
    .label("video_count"),
).where(ARTISTS.c.id == bindparam("artist_id"))


def artist_params(artist_id: int) -> dict[str, int]:
    """ARTIST_IMAGE_STMT's parameters; an id out of range cannot exist."""
    if not valid_id(artist_id):
        raise NotFound("Artist not found")
    return {"artist_id": artist_id}


def artist_thumbnail_file(settings: Settings, row: Row | None) -> Path:
    """From ARTIST_IMAGE_STMT's row (None: no such artist). media_file is a stat."""
    check_artist(row)
    assert row is not None
    path = media_file(settings, row["thumbnail_path"])
    if path is None:
        raise NotFound("Artist has no uploaded image")
    return path


def check_artist(row: Row | None) -> None:
    """From ARTIST_IMAGE_STMT's row: 404 before the upload is read, so an unknown artist
    costs no image decoding."""
    if row is None:
        raise NotFound("Artist not found")


def artist_thumbnail_path(settings: Settings, artist_id: int) -> Path:
    return media_root(settings.media_dir) / "thumbnails" / "artists" / f"{artist_id}.jpg"


def read_upload(stream: IO[bytes], limit: int) -> bytes:
    """The whole upload, refusing it as soon as it passes `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"File is larger than {limit} bytes")
    return data


def prepare_artist_image(data: bytes) -> bytes:
    """Validate by content and convert to the stored JPEG. CPU-bound, no IO."""
    if not data:
        raise ValidationFailed("file is empty")
    try:
        return images.normalize_upload(data)
    except images.ImageRejected as exc:
        raise ValidationFailed(str(exc)) from None


def set_artist_thumbnail(settings: Settings, artist_id: int, path: Path) -> Plan[dict[str, Any]]:
    """Store the image's path; the artist with its video count."""
    params = artist_params(artist_id)
    stored = to_stored(settings.media_dir, path)
    # As the ORM's flush did: the same path again (a new image over the old file) changes
    # nothing, updated_at included; a new path moves updated_at through its onupdate.
    yield (
        update(ARTISTS)
        .where(ARTISTS.c.id == artist_id, ARTISTS.c.thumbnail_path.is_distinct_from(stored))
        .values(thumbnail_path=stored)
    )
    row = (yield _ARTIST_COUNTED_STMT, params).mappings().one_or_none()
    if row is None:  # gone since the upload began
        raise NotFound("Artist not found")
    return artist_row_json(row)


# Files ------------------------------------------------------------------------------


@contextlib.contextmanager
def _temp_beside(target: Path) -> Iterator[Path]:
    """A temp file in the target's folder (one filesystem, so the rename is atomic); it is
    removed on the way out unless it was renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.chmod(name, 0o644)  # mkstemp's 0600 would outlive the rename
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def write_atomic(target: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one. Blocking."""
    with _temp_beside(target) as temp:
        temp.write_bytes(data)
        os.replace(temp, target)
