"""Admin answers (shared.services.system)."""

from __future__ import annotations

from fastapi_app.schemas.common import Out


class VersionsOut(Out):
    ffmpeg: str | None
    yt_dlp: str | None
    python: str


class DiskOut(Out):
    path: str
    total: int | None
    used: int | None
    free: int | None


class ProcessOut(Out):
    pid: int
    rss_bytes: int | None
    threads: int
    cpu_seconds: float
    uptime_seconds: float


class SystemOut(Out):
    versions: VersionsOut
    disk: DiskOut
    process: ProcessOut


class LogOut(Out):
    lines: list[str]
    count: int
