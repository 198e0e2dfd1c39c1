"""The reaper: no download stays `running` after its worker died, nor `queued` after its
message was lost.

A running job stamps heartbeat_at every FIGWAY_DOWNLOAD_HEARTBEAT seconds, from its own
thread, however slow the download. A row whose stamp is older than
FIGWAY_DOWNLOAD_STALE_AFTER has lost its worker (killed, machine gone): the reaper fails it
and removes its partial files. Its UPDATE repeats the staleness test, so a worker that
stamps in between keeps its row, and several reapers (one per gateway process) agree.

A row queued for FIGWAY_DOWNLOAD_REQUEUE_AFTER that nobody claimed is sent to the runner
again, by one reaper (see requeue_lost_downloads).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import Download
from shared.jobs.downloads import Publish, SessionFactory, _rowcount, announce, fail, remove_files

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


def requeue_lost_downloads(
    session_factory: SessionFactory,
    settings: Settings,
    submit: Callable[[int], None],
    *,
    now: datetime | None = None,
) -> list[int]:
    """Send again every queued download nobody has claimed for `download_requeue_after_s`:
    its message is gone (Redis restarted without its data, or the process whose thread held
    it stopped). The ids sent.

    On a queued row, heartbeat_at says when it was last sent (created_at before that). The
    UPDATE that moves the stamp repeats the test, so of several reapers exactly one sends a
    row per period; a message that was not lost after all arrives as a second delivery,
    which finds the row claimed and does nothing."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=settings.download_requeue_after_s)
    unclaimed = and_(
        Download.status == "queued",
        or_(
            Download.heartbeat_at < cutoff,
            and_(Download.heartbeat_at.is_(None), Download.created_at < cutoff),
        ),
    )
    with session_factory() as session:
        found = session.execute(select(Download.id, Download.heartbeat_at).where(unclaimed)).all()
    sent = []
    for download_id, stamped_at in found:
        this_row = Download.id == download_id
        with session_factory() as session, session.begin():
            if not _rowcount(
                session, update(Download).where(this_row, unclaimed).values(heartbeat_at=now)
            ):
                continue  # claimed, cancelled, or sent by another reaper meanwhile
        try:
            submit(download_id)
        except Exception as exc:  # the broker is still away: the rest would fail as well
            log.warning("download %s: could not queue it again: %s", download_id, exc)
            with session_factory() as session, session.begin():
                # Put the stamp back, so the next pass tries again rather than a period later.
                session.execute(
                    update(Download)
                    .where(this_row, Download.status == "queued", Download.heartbeat_at == now)
                    .values(heartbeat_at=stamped_at)
                )
            break
        log.warning("download %s: queued but never claimed; queued again", download_id)
        sent.append(download_id)
    return sent
