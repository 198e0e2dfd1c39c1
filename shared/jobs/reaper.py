"""The reaper: no download stays `running` after its worker died.

A running job stamps heartbeat_at every FIGWAY_DOWNLOAD_HEARTBEAT seconds, from its own
thread, however slow the download. A row whose stamp is older than
FIGWAY_DOWNLOAD_STALE_AFTER has lost its worker (killed, machine gone): the reaper fails it
and removes its partial files. Its UPDATE repeats the staleness test, so a worker that
stamps in between keeps its row, and several reapers (one per gateway process) agree.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Download
from shared.jobs.downloads import Publish, SessionFactory, announce, fail, remove_files

log = logging.getLogger("figway.downloads")

WORKER_LOST = "The worker running this download stopped"


def reap_stale_downloads(
    session_factory: SessionFactory,
    settings: Settings,
    *,
    publish: Publish | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Fail every running download whose worker stopped stamping it; the ids reaped."""
    cutoff = (now or utcnow()) - timedelta(seconds=settings.download_stale_after_s)
    stale = or_(
        Download.heartbeat_at < cutoff,
        and_(Download.heartbeat_at.is_(None), Download.started_at < cutoff),
    )
    with session_factory() as session:
        found = session.execute(
            select(Download.id, Download.video_id).where(Download.status == "running", stale)
        ).all()
    reaped = []
    for download_id, video_id in found:
        if not fail(session_factory, download_id, WORKER_LOST, where=stale):
            continue  # it stamped, finished or was cancelled meanwhile
        remove_files(settings, video_id, download_id)
        log.warning("download %s: its worker stopped; marked failed", download_id)
        reaped.append(download_id)
        announce(session_factory, download_id, publish)
    return reaped
