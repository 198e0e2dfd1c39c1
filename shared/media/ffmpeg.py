"""Where the ffmpeg binary comes from: FFMPEG_PATH, else the system PATH, else a wheel."""

from __future__ import annotations

import shutil
from functools import cache

from shared.config import Settings


class FfmpegMissing(RuntimeError):
    """No ffmpeg binary could be found."""


def ffmpeg_exe(settings: Settings) -> str:
    if settings.ffmpeg_path:
        return settings.ffmpeg_path
    return _discovered()


@cache
def _discovered() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        # imageio-ffmpeg ships a static binary, so a fresh machine needs no apt step.
        import imageio_ffmpeg

        path: str = imageio_ffmpeg.get_ffmpeg_exe()
        return path
    except (ImportError, RuntimeError) as exc:
        raise FfmpegMissing("ffmpeg not found: install it or set FFMPEG_PATH") from exc
