"""The download queue: queueing, listing, cancelling and removing download records.

Reads are Core statements and functions of their rows; writes are plans
(shared/db/plan.py). The legacy side runs both on its Session, the twins await them on
their connection (fastapi_app/deps.py tells the pattern).
"""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, delete, exists, insert, select, update
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.db.models import DOWNLOAD_ACTIVE, DOWNLOAD_STATUSES, Artist, Download, Video
from shared.db.plan import Plan, run
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.serializers import Row, download_json
from shared.services import valid_id

FINISHED = ("completed", "failed", "cancelled")

DOWNLOADS = cast(Table, Download.__table__)
VIDEOS = cast(Table, Video.__table__)
ARTISTS = cast(Table, Artist.__table__)
# The downloads page shows the newest this many: a queue, not an archive.
QUEUE_PAGE_SIZE = 200

# --- statements ----------------------------------------------------------------------

# What download_json reads, and nothing else (no file path, worker id or heartbeat).
_COLUMNS = [
    DOWNLOADS.c[name]
    for name in (
        "id",
        "video_id",
        "status",
        "progress",
        "file_size",
        "error_message",
        "created_at",
        "started_at",
        "finished_at",
    )
]
# Bound at execution ({"download_id": ...}): one statement object for every id.
DOWNLOAD_STMT = select(*_COLUMNS).where(DOWNLOADS.c.id == bindparam("download_id"))

# The downloads page: each download with what it fetches (its video's title and artist), the
# newest first, in one join rather than a lookup per row.
QUEUE_STMT = (
    select(*_COLUMNS, VIDEOS.c.title, ARTISTS.c.name.label("artist_name"))
    .join_from(DOWNLOADS, VIDEOS, VIDEOS.c.id == DOWNLOADS.c.video_id)
    .join(ARTISTS, ARTISTS.c.id == VIDEOS.c.artist_id)
    .order_by(DOWNLOADS.c.id.desc())
    .limit(QUEUE_PAGE_SIZE)
)


@functools.cache  # two statements at most: all, or one status (bound at execution)
def _list_stmt(filtered: bool) -> Select[Any]:
    query = select(*_COLUMNS).order_by(DOWNLOADS.c.id)
    return query.where(DOWNLOADS.c.status == bindparam("status")) if filtered else query


def _active_stmt(video_id: int) -> Select[Any]:
    return (
        select(DOWNLOADS.c.id)
        .where(DOWNLOADS.c.video_id == video_id, DOWNLOADS.c.status.in_(DOWNLOAD_ACTIVE))
        .limit(1)
    )


# --- parameters and answers from rows (both sides) ----------------------------------


def download_params(download_id: int) -> dict[str, int]:
    """DOWNLOAD_STMT's parameters; an id out of range cannot exist (and must not reach the
    driver)."""
    if not valid_id(download_id):
        raise NotFound("Download not found")
    return {"download_id": download_id}


def download_answer(row: Row | None) -> dict[str, Any]:
    """GET /api/downloads/<id> (and each live progress message) from DOWNLOAD_STMT's row."""
    if row is None:
        raise NotFound("Download not found")
    return download_json(row)


def list_query(status: str | None) -> tuple[Select[Any], dict[str, str]]:
    """The list's statement and parameters; 400 for a status that is none of them."""
    if status is None:
        return _list_stmt(False), {}
    if status not in DOWNLOAD_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(DOWNLOAD_STATUSES)}")
    return _list_stmt(True), {"status": status}


def list_json(rows: Any) -> dict[str, Any]:
    return {"downloads": [download_json(row) for row in rows]}


# --- writes: plans -------------------------------------------------------------------


def _download(download_id: int) -> Plan[Row]:
    result = yield DOWNLOAD_STMT, download_params(download_id)
    row = result.mappings().one_or_none()
    if row is None:
        raise NotFound("Download not found")
    return row


def queue_download(video_id: int, user_id: int | None) -> Plan[int]:
    """A queued row for the video, its id; the caller commits, then hands it to a runner.

    Run it in a transaction of its own (the caller's lookup committed first): its check of
    the active downloads is a plain read, and the snapshot it reads (MariaDB's REPEATABLE
    READ) must be taken after the video's lock was granted, not before, when it would not
    show the row a concurrent request queued meanwhile.
    """
    # An id out of range cannot exist (and SQLite could not even bind it).
    if not valid_id(video_id):
        raise NotFound("Video not found")
    # The row lock makes two concurrent requests for one video queue once (MariaDB).
    video = (
        yield select(VIDEOS.c.url, VIDEOS.c.imvdb_id)
        .where(VIDEOS.c.id == video_id)
        .with_for_update()
    ).one_or_none()
    if video is None:
        raise NotFound("Video not found")
    # No url of its own: the job asks the metadata provider for the video's source.
    if not video.url and video.imvdb_id is None:
        raise ValidationFailed("Video has no url to download from")
    if (yield _active_stmt(video_id)).first() is not None:
        raise Conflict("Video already has a queued or running download")
    result = yield insert(DOWNLOADS).values(
        video_id=video_id, requested_by=user_id, status="queued", progress=0
    )
    download_id: int = result.inserted_primary_key[0]  # type: ignore[index]  # never None after an INSERT
    return download_id


def cancel_download(download_id: int) -> Plan[dict[str, Any]]:
    """Mark it cancelled; a running job notices on its next progress report and cleans up."""
    download = yield from _download(download_id)
    status = download["status"]
    if status not in DOWNLOAD_ACTIVE:
        raise Conflict(f"Download is {status}; only queued or running can be cancelled")
    now = utcnow()
    yield (
        update(DOWNLOADS)
        .where(DOWNLOADS.c.id == download_id)
        .values(status="cancelled", finished_at=now)
    )
    # After the update, as the ORM's autoflush had it: this download no longer counts as active.
    yield from settle(download["video_id"])
    # The values written, as the ORM answered from the object it had just changed.
    return download_json({**download, "status": "cancelled", "finished_at": now})


def delete_download(download_id: int) -> Plan[dict[str, Any]]:
    download = yield from _download(download_id)
    if download["status"] not in FINISHED:
        raise Conflict(f"Download is {download['status']}; cancel it before deleting")
    yield delete(DOWNLOADS).where(DOWNLOADS.c.id == download_id)
    return {"success": True}


def abandon_download(download_id: int, message: str) -> Plan[bool]:
    """Queued -> failed, and its video failed: a row whose job was never sent (the broker
    was away) or will never be run again (shutdown). False if it was no longer queued."""
    result = yield (
        update(DOWNLOADS)
        .where(DOWNLOADS.c.id == download_id, DOWNLOADS.c.status == "queued")
        .values(status="failed", error_message=message, finished_at=utcnow())
    )
    if not result.rowcount:
        return False
    video_id = select(DOWNLOADS.c.video_id).where(DOWNLOADS.c.id == download_id)
    # A video already failed is left alone, updated_at included (as the ORM did).
    yield (
        update(VIDEOS)
        .where(VIDEOS.c.id == video_id.scalar_subquery(), VIDEOS.c.status != "failed")
        .values(status="failed")
    )
    return True


def settle(video_id: int) -> Plan[None]:
    """After a cancel, a video left 'downloading' goes back to what its file says."""
    active = exists(_active_stmt(video_id))
    row = (
        yield select(VIDEOS.c.status, VIDEOS.c.file_path, active.label("busy")).where(
            VIDEOS.c.id == video_id
        )
    ).one_or_none()
    if row is None or row.status != "downloading" or row.busy:
        return
    status = "downloaded" if row.file_path else "wanted"
    # updated_at through the column's onupdate, as the ORM's flush set it.
    yield update(VIDEOS).where(VIDEOS.c.id == video_id).values(status=status)


def settle_video(session: Session, video_id: int) -> None:
    """settle on a sync Session: the download jobs' (shared/jobs/downloads.py)."""
    run(session, settle, video_id)
