"""Phase 2: streams.

Each side gets its own copy of one small sample MP4 in its own media dir (Scenario.media),
the row points at it by a path relative to that dir. The ETag embeds the file's mtime and
path, which differ between the sides; it is no compared header, and the conditional
scenarios use values that do not depend on it ("*", dates far off, a stale tag).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from parity.demo.catalogue.media import CLIP, FAR_FUTURE, FAR_PAST, T0, add_videos, sample_mp4
from parity.demo.scenario import MediaFiles, Scenario
from shared.db.models import Artist

ROUTE = "GET /api/videos/<int:video_id>/stream"
ODD_NAME = "videos/2/Jóga (live; 1997).mp4"  # non-ASCII: werkzeug's filename* case


def _media() -> dict[str, bytes]:
    return {CLIP: sample_mp4(), ODD_NAME: sample_mp4()}


MEDIA: MediaFiles = _media


def _videos(session: Session, now: datetime) -> None:
    """1: the clip; 2: an odd file name; 3: no file; 4: a file that is gone;
    5: a path leading out of the media dir."""
    session.add(Artist(id=1, name="Streamer", created_at=T0, updated_at=T0))
    session.flush()
    paths = (CLIP, ODD_NAME, None, "videos/4/gone.mp4", "../outside.mp4")
    add_videos(session, paths)


def _stream(
    name: str,
    query: str = "",
    headers: dict[str, str] | None = None,
    video_id: int = 1,
    role: str | None = "readonly",
    auth: str = "cookie",
) -> Scenario:
    return Scenario(
        ROUTE,
        name,
        f"/api/videos/{video_id}/stream{query}",
        role=role,
        auth=auth,
        headers=headers or {},
        arrange=_videos,
        media=MEDIA,
    )


SCENARIOS: tuple[Scenario, ...] = (
    _stream("anonymous is 401", role=None),
    _stream("readonly gets the whole file"),
    _stream("bearer token, a stronger role", role="manager", auth="bearer"),
    _stream("a non-ASCII file name", video_id=2),
    _stream("unknown video is 404", video_id=9999),
    _stream("video without a file is 404", video_id=3),
    _stream("file gone from disk is 404", video_id=4),
    _stream("a path out of the media dir is 404", video_id=5),
    # Ranges.
    _stream("first 100 bytes", headers={"Range": "bytes=0-99"}),
    _stream("from byte 100 on", headers={"Range": "bytes=100-"}),
    _stream("the last 50 bytes", headers={"Range": "bytes=-50"}),
    _stream("a range running past the end", headers={"Range": "bytes=100-99999999"}),
    _stream("a range past the end is 416", headers={"Range": "bytes=99999999-"}),
    _stream("a malformed range is 416", headers={"Range": "bytes=abc"}),
    _stream("another unit is 416", headers={"Range": "items=0-5"}),
    _stream("a multi-range is 416", headers={"Range": "bytes=0-1,5-6"}),
    _stream("a reversed range is 416", headers={"Range": "bytes=50-10"}),
    # Conditionals.
    _stream("If-None-Match * is 304", headers={"If-None-Match": "*"}),
    _stream("a stale If-None-Match is 200", headers={"If-None-Match": '"stale"'}),
    _stream("If-Modified-Since ahead is 304", headers={"If-Modified-Since": FAR_FUTURE}),
    _stream("If-Modified-Since long ago is 200", headers={"If-Modified-Since": FAR_PAST}),
    _stream("If-Match stale", headers={"If-Match": '"stale"'}),
    _stream("If-Match *", headers={"If-Match": "*"}),
    _stream("If-Range stale: the whole file", headers={"Range": "bytes=0-9", "If-Range": '"x"'}),
    _stream(
        "If-Range by a date ahead",
        headers={"Range": "bytes=0-9", "If-Range": FAR_FUTURE},
    ),
    _stream("304 wins over a range", headers={"Range": "bytes=0-9", "If-None-Match": "*"}),
    # The transcode flag.
    _stream("transcode=0 is the file", "?transcode=0"),
    _stream("an empty transcode is the file", "?transcode="),
    _stream("an unknown transcode value is 400", "?transcode=maybe"),
    _stream("the first transcode value counts", "?transcode=maybe&transcode=1"),
    _stream("transcode checked after the 404", "?transcode=maybe", video_id=3),
    _stream("transcode=1 pipes ffmpeg", "?transcode=1"),
    _stream("transcode=TRUE", "?transcode=TRUE"),
    _stream("transcode=yes ignores a range", "?transcode=yes", {"Range": "bytes=0-99"}),
    _stream("transcode of a missing file is 404", "?transcode=1", video_id=4),
)
