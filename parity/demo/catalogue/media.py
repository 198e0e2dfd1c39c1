"""What the phase 2 media scenarios share: a sample MP4, fixed times, videos with files."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from shared.db.models import Video
from shared.media.ffmpeg import find_ffmpeg, make_sample_video

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CLIP = "videos/1/clip.mp4"
FAR_FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"
FAR_PAST = "Mon, 01 Jan 1990 00:00:00 GMT"


@cache
def sample_mp4() -> bytes:
    """A ~1 s H.264/AAC MP4, made once per process: ffmpeg's output for one input is the
    same bytes every time, so both sides' transcodes and frames can be compared."""
    with tempfile.TemporaryDirectory(prefix="figway-parity-sample-") as tmp:
        path = make_sample_video(find_ffmpeg(), Path(tmp) / "sample.mp4", 1, "160x120")
        return path.read_bytes()


def add_videos(session: Session, paths: Sequence[str | None], **fields: Any) -> None:
    """Videos 1, 2, … of artist 1, one per file path (None: no file), at T0; a field given
    as a function gets the video id."""
    session.add_all(
        Video(
            id=i,
            artist_id=1,
            title=f"Clip {i}",
            file_path=path,
            status="downloaded" if path else "wanted",
            created_at=T0,
            updated_at=T0,
            **{k: v(i) if callable(v) else v for k, v in fields.items()},
        )
        for i, path in enumerate(paths, start=1)
    )
