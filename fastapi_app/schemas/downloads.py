"""Downloads (shared.serializers.download_json and the download queue's answers)."""

from __future__ import annotations

from typing import Literal

from fastapi_app.schemas.common import Out

DownloadStatus = Literal["queued", "running", "completed", "failed", "cancelled"]


class DownloadOut(Out):
    """Also each message of WS /ws/downloads/<id>: the row as it changes."""

    id: int
    video_id: int
    status: DownloadStatus
    progress: int
    file_size: int | None
    error_message: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class DownloadList(Out):
    downloads: list[DownloadOut]


class QueuedOut(Out):
    success: bool
    download_id: int
