"""The ffmpeg seam: where the binary comes from (FFMPEG_PATH, else PATH, else a wheel) and
the commands we run with it, built by pure functions so a sync and an async caller share them.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

from shared.config import Settings


class FfmpegMissing(RuntimeError):
    """No ffmpeg binary could be found."""


def ffmpeg_exe(settings: Settings) -> str:
    return find_ffmpeg(settings.ffmpeg_path)


def find_ffmpeg(explicit: str | None = None) -> str:
    """The binary named explicitly, else the one discovered (for tools without settings)."""
    return explicit or _discovered()


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


class FfmpegFailed(RuntimeError):
    """ffmpeg ran but produced nothing usable."""


# Quiet, never reads stdin (a server process has none worth reading), overwrites outputs.
_BASE = ("-nostdin", "-hide_banner", "-loglevel", "error", "-y")
# Thumbnails of 4K sources need not be 4K; -2 keeps the aspect with an even height.
_FRAME_SCALE = "scale='min(iw,1280)':-2"
# ultrafast: a live transcode must keep up with playback on a small machine.
_H264_AAC = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac")
FRAME_TIMEOUT_S = 30.0


def _file(path: str | Path) -> str:
    # The file: protocol prefix stops ffmpeg reading a name such as "concat:..." as a protocol.
    return f"file:{Path(path).resolve()}"


def sample_video_command(
    exe: str, path: str | Path, seconds: float = 2, size: str = "320x240"
) -> list[str]:
    video = f"testsrc=size={size}:rate=25:duration={seconds}"
    audio = f"sine=frequency=440:duration={seconds}"
    return [
        *(exe, *_BASE, "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio),
        *_H264_AAC,
        *["-shortest", "-movflags", "+faststart", "-f", "mp4"],
        _file(path),
    ]


def make_sample_video(
    exe: str, path: str | Path, seconds: float = 2, size: str = "320x240"
) -> Path:
    """A small test-pattern MP4 with a tone: for tests and the demo seed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _run(sample_video_command(exe, target, seconds, size), timeout=60 + 10 * seconds)
    return target


def frame_command(exe: str, src: str | Path, dst: str | Path, at_seconds: float) -> list[str]:
    """One JPEG frame; -ss before -i seeks by keyframe index instead of decoding up to it."""
    seek = f"{max(at_seconds, 0.0):.3f}"
    return [
        *(exe, *_BASE, "-ss", seek, "-i", _file(src), "-frames:v", "1"),
        *("-vf", _FRAME_SCALE, "-f", "mjpeg", _file(dst)),
    ]


def extract_frame(
    exe: str,
    src: str | Path,
    dst: str | Path,
    at_seconds: float = 1.0,
    timeout: float = FRAME_TIMEOUT_S,
) -> None:
    """Write one frame at `at_seconds`, falling back to the first frame for short videos."""
    # Without ffprobe the duration may be unknown, and a seek past the end yields no frame.
    for at in dict.fromkeys((at_seconds, 0.0)):
        try:
            _run(frame_command(exe, src, dst, at), timeout=timeout)
        except FfmpegFailed:
            continue
        if Path(dst).is_file() and Path(dst).stat().st_size > 0:
            return
    raise FfmpegFailed(f"no frame could be read from {Path(src).name}")


def transcode_command(exe: str, src: str | Path) -> list[str]:
    """Fragmented MP4 on stdout: playable while it streams, no seekable output needed."""
    return [
        *(exe, *_BASE, "-i", _file(src), "-map", "0:v:0?", "-map", "0:a:0?"),
        *_H264_AAC,
        *["-movflags", "frag_keyframe+empty_moov", "-f", "mp4", "pipe:1"],
    ]


def _run(command: list[str], timeout: float) -> None:
    try:
        result = subprocess.run(  # noqa: S603 - argv list built above, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise FfmpegFailed(f"ffmpeg took longer than {timeout:.0f} s") from exc
    if result.returncode != 0:
        last = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise FfmpegFailed(f"ffmpeg exited with {result.returncode}: {last[0][:200]}")
