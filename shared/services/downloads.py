"""The download queue: queueing, listing, cancelling and removing download records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.db.models import DOWNLOAD_ACTIVE, DOWNLOAD_STATUSES, Download, Video
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.serializers import download_json
from shared.services import find, valid_id

FINISHED = ("completed", "failed", "cancelled")


def _video(session: Session, video_id: int) -> Video:
    return find(session, Video, video_id, "Video")


def _download(session: Session, download_id: int) -> Download:
    return find(session, Download, download_id, "Download")


def _active_download_id(session: Session, video_id: int) -> int | None:
    return session.scalar(
        select(Download.id)
        .where(Download.video_id == video_id, Download.status.in_(DOWNLOAD_ACTIVE))
        .limit(1)
    )


def queue_download(session: Session, video_id: int, user_id: int | None) -> Download:
    """A queued row for the video; the caller commits, then hands the id to a runner."""
    # The row lock makes two concurrent requests for one video queue once (MariaDB).
    # An id out of range cannot exist (and SQLite could not even bind it).
    video = (
        session.scalars(select(Video).where(Video.id == video_id).with_for_update()).first()
        if valid_id(video_id)
        else None
    )
    if video is None:
        raise NotFound("Video not found")
    # No url of its own: the job asks the metadata provider for the video's source.
    if not video.url and video.imvdb_id is None:
        raise ValidationFailed("Video has no url to download from")
    if _active_download_id(session, video_id) is not None:
        raise Conflict("Video already has a queued or running download")
    download = Download(video_id=video_id, requested_by=user_id, status="queued", progress=0)
    session.add(download)
    session.flush()
    return download


def list_downloads(session: Session, status: str | None) -> dict[str, Any]:
    query = select(Download).order_by(Download.id)
    if status is not None:
        if status not in DOWNLOAD_STATUSES:
            raise ValidationFailed(f"status must be one of {', '.join(DOWNLOAD_STATUSES)}")
        query = query.where(Download.status == status)
    return {"downloads": [download_json(d) for d in session.scalars(query)]}


def get_download(session: Session, download_id: int) -> dict[str, Any]:
    return download_json(_download(session, download_id))


def cancel_download(session: Session, download_id: int) -> dict[str, Any]:
    """Mark it cancelled; a running job notices on its next progress report and cleans up."""
    download = _download(session, download_id)
    if download.status not in DOWNLOAD_ACTIVE:
        raise Conflict(f"Download is {download.status}; only queued or running can be cancelled")
    download.status = "cancelled"
    download.finished_at = utcnow()
    settle_video(session, download.video_id)
    session.flush()
    return download_json(download)


def delete_download(session: Session, download_id: int) -> dict[str, Any]:
    download = _download(session, download_id)
    if download.status not in FINISHED:
        raise Conflict(f"Download is {download.status}; cancel it before deleting")
    session.delete(download)
    session.flush()
    return {"success": True}


def settle_video(session: Session, video_id: int) -> None:
    """After a cancel, a video left 'downloading' goes back to what its file says."""
    video = session.get(Video, video_id)
    if video is None or video.status != "downloading":
        return
    if _active_download_id(session, video_id) is not None:
        return
    video.status = "downloaded" if video.file_path else "wanted"
