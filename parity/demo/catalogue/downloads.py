"""Phase 2: the download queue.

A queued download runs in the background on each side (Flask's thread, the twin's runner);
the runner waits for both to end before it reads the rows, so the rows compared are the
finished ones. Scenarios download from a loopback port where nobody listens: both sides
fail the same way, quickly, with the same message (the twin retries a refused connection
first, with no delay in the parity run, and still ends there).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from parity.demo.catalogue.media import T0, add_videos
from parity.demo.scenario import USER, Scenario
from shared.db.models import Artist, Download, Video

QUEUE = "POST /api/videos/<int:video_id>/download"
LIST = "GET /api/downloads"
ONE = "GET /api/downloads/<int:download_id>"
CANCEL = "POST /api/downloads/<int:download_id>/cancel"
DELETE = "DELETE /api/downloads/<int:download_id>"

REFUSED = "http://127.0.0.1:9/clip.mp4"  # the discard port: nobody listens on loopback
# Videos 1 (a url, no file), 2 (no url), 3 (a url and a file: a re-download).
VIDEOS = {1: (REFUSED, None), 2: (None, None), 3: (REFUSED, "videos/3/clip.mp4")}

# Each side stamps these at its own moment; worker_id names the thread and process.
STAMPED = ("created_at", "started_at", "finished_at", "heartbeat_at", "worker_id")
RAN = (*(f"rows.downloads.*.{column}" for column in STAMPED), "rows.videos.*.updated_at")
ENDED = ("finished_at", "rows.downloads.*.finished_at", "rows.videos.*.updated_at")


def _library(session: Session) -> None:
    session.add(Artist(id=1, name="Queue Artist", genres=[], created_at=T0, updated_at=T0))
    session.flush()
    add_videos(
        session,
        [file for _url, file in VIDEOS.values()],
        url=lambda i: VIDEOS[i][0],
    )
    session.flush()


def _with(*downloads: tuple[int, str, dict[str, Any]]) -> Any:
    """The library, and downloads (video id, status, more columns) as ids 1, 2, …"""

    def arrange(session: Session, _now: datetime) -> None:
        _library(session)
        for video_id, status, given in downloads:
            columns = dict(given)  # arrange runs once per side: leave the scenario's alone
            started = T0 if status != "queued" else None
            finished = T0 if status in ("completed", "failed", "cancelled") else None
            session.add(
                Download(
                    video_id=video_id,
                    requested_by=USER,
                    status=status,
                    progress=columns.pop("progress", 100 if status == "completed" else 0),
                    created_at=T0,
                    started_at=started,
                    heartbeat_at=started,
                    finished_at=finished,
                    **columns,
                )
            )
        # A video with an active download is being downloaded. A Core UPDATE with the time
        # given: the ORM would stamp updated_at with each side's own clock.
        active = [video_id for video_id, status, _ in downloads if status in ("queued", "running")]
        if active:
            session.execute(
                update(Video)
                .where(Video.id.in_(active))
                .values(status="downloading", updated_at=T0)
            )

    return arrange


def _library_only(session: Session, _now: datetime) -> None:
    _library(session)


QUEUE_ALL = _with(
    (1, "completed", {"file_size": 1234}),
    (1, "failed", {"error_message": "HTTP Error 404: Not Found", "progress": 12}),
    (3, "cancelled", {}),
    (1, "queued", {}),
)
# No active download of video 1: one of each finished kind.
FINISHED = _with(
    (1, "completed", {"file_size": 1234}),
    (1, "failed", {"error_message": "HTTP Error 404: Not Found", "progress": 12}),
    (3, "cancelled", {}),
)


def _queue(name: str, video: str, role: str | None = "user", **more: Any) -> Scenario:
    more.setdefault("arrange", _library_only)
    return Scenario(QUEUE, name, f"/api/videos/{video}/download", role=role, **more)


SCENARIOS: tuple[Scenario, ...] = (
    # --- POST /api/videos/<id>/download ---------------------------------------------------
    _queue("anonymous", "1", role=None),
    _queue("readonly", "1", role="readonly"),
    _queue("user: queued, then fails on both", "1", volatile=RAN),
    _queue("bearer token", "1", role="manager", auth="bearer", volatile=RAN),
    _queue("a video with a file: re-download", "3", volatile=RAN),
    _queue("after finished downloads", "1", arrange=FINISHED, volatile=RAN),
    # Flask's <int:> reads any Unicode digits: "\u0661" (ARABIC-INDIC ONE) is 1.
    _queue("Unicode digits in the id", "\u0661", volatile=RAN),
    _queue("a JSON body is ignored", "1", json={"format": "best"}, volatile=RAN),
    _queue("video without a url", "2"),
    _queue("unknown video", "99"),
    _queue("id beyond any integer", "99999999999999999999999"),
    _queue("already queued", "1", arrange=_with((1, "queued", {}))),
    _queue("already running", "1", arrange=_with((1, "running", {"progress": 40}))),
    # --- GET /api/downloads ---------------------------------------------------------------
    Scenario(LIST, "anonymous", "/api/downloads", arrange=QUEUE_ALL),
    Scenario(LIST, "readonly", "/api/downloads", role="readonly", arrange=QUEUE_ALL),
    Scenario(LIST, "empty", "/api/downloads", role="user"),
    Scenario(LIST, "all", "/api/downloads", role="user", arrange=QUEUE_ALL),
    Scenario(LIST, "bearer", "/api/downloads", role="admin", auth="bearer", arrange=QUEUE_ALL),
    *(
        Scenario(LIST, f"status={s}", f"/api/downloads?status={s}", role="user", arrange=QUEUE_ALL)
        for s in ("queued", "running", "completed", "failed", "cancelled")
    ),
    Scenario(
        LIST, "unknown status", "/api/downloads?status=paused", role="user", arrange=QUEUE_ALL
    ),
    Scenario(LIST, "empty status", "/api/downloads?status=", role="user", arrange=QUEUE_ALL),
    Scenario(
        LIST,
        "repeated status: the first wins",
        "/api/downloads?status=failed&status=queued",
        role="user",
        arrange=QUEUE_ALL,
    ),
    Scenario(
        LIST,
        "status is case-sensitive",
        "/api/downloads?status=FAILED",
        role="user",
        arrange=QUEUE_ALL,
    ),
    # --- GET /api/downloads/<id> ----------------------------------------------------------
    Scenario(ONE, "anonymous", "/api/downloads/1", arrange=QUEUE_ALL),
    Scenario(ONE, "readonly", "/api/downloads/1", role="readonly", arrange=QUEUE_ALL),
    Scenario(ONE, "completed", "/api/downloads/1", role="user", arrange=QUEUE_ALL),
    Scenario(ONE, "failed, with its message", "/api/downloads/2", role="user", arrange=QUEUE_ALL),
    Scenario(ONE, "queued", "/api/downloads/4", role="manager", arrange=QUEUE_ALL),
    Scenario(ONE, "unknown", "/api/downloads/99", role="user", arrange=QUEUE_ALL),
    Scenario(ONE, "Unicode digits", "/api/downloads/\u0662", role="user", arrange=QUEUE_ALL),
    # --- POST /api/downloads/<id>/cancel ---------------------------------------------------
    Scenario(CANCEL, "anonymous", "/api/downloads/1/cancel", arrange=_with((1, "queued", {}))),
    Scenario(
        CANCEL,
        "readonly",
        "/api/downloads/1/cancel",
        role="readonly",
        arrange=_with((1, "queued", {})),
    ),
    Scenario(
        CANCEL,
        "queued: the video goes back to wanted",
        "/api/downloads/1/cancel",
        role="user",
        arrange=_with((1, "queued", {})),
        volatile=ENDED,
    ),
    Scenario(
        CANCEL,
        "running, with a file from before: back to downloaded",
        "/api/downloads/1/cancel",
        role="user",
        arrange=_with((3, "running", {"progress": 55})),
        volatile=ENDED,
    ),
    Scenario(
        CANCEL,
        "bearer",
        "/api/downloads/1/cancel",
        role="admin",
        auth="bearer",
        arrange=_with((1, "running", {"progress": 5})),
        volatile=ENDED,
    ),
    *(
        Scenario(
            CANCEL,
            f"already {status}",
            f"/api/downloads/{i}/cancel",
            role="user",
            arrange=FINISHED,
        )
        for i, status in enumerate(("completed", "failed", "cancelled"), start=1)
    ),
    Scenario(CANCEL, "unknown", "/api/downloads/99/cancel", role="user", arrange=FINISHED),
    # --- DELETE /api/downloads/<id> --------------------------------------------------------
    Scenario(DELETE, "anonymous", "/api/downloads/1", arrange=FINISHED),
    Scenario(DELETE, "user", "/api/downloads/1", role="user", arrange=FINISHED),
    *(
        Scenario(DELETE, status, f"/api/downloads/{i}", role="manager", arrange=FINISHED)
        for i, status in enumerate(("completed", "failed", "cancelled"), start=1)
    ),
    Scenario(DELETE, "admin", "/api/downloads/1", role="admin", arrange=FINISHED),
    Scenario(DELETE, "queued", "/api/downloads/4", role="manager", arrange=QUEUE_ALL),
    Scenario(
        DELETE,
        "running",
        "/api/downloads/1",
        role="manager",
        arrange=_with((1, "running", {})),
    ),
    Scenario(DELETE, "unknown", "/api/downloads/99", role="manager", arrange=FINISHED),
    Scenario(DELETE, "bearer", "/api/downloads/3", role="manager", auth="bearer", arrange=FINISHED),
)
