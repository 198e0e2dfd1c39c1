"""Clients writing their own playlists at once, on MariaDB behind a real `figway serve`:
no request may fail on the locks InnoDB takes for them (deadlocks), on either side."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from shared.db.models import Artist, PlaylistEntry, Video
from tests.mariadb_sites import OWNERS, bearer, site

pytestmark = pytest.mark.mariadb

CLIENTS = 4
VIDEOS = 40  # each client adds every video to its own playlist, one request each


@pytest.mark.parametrize("owner", OWNERS)
def test_clients_adding_videos_to_their_playlists_at_once_never_fail(tmp_path, owner):
    with site(tmp_path, owner) as s:
        engine = create_engine(s.database_url)
        with Session(engine) as session:
            artist = Artist(name="Artist", genres=[])
            session.add(artist)
            session.flush()
            videos = [Video(artist_id=artist.id, title=f"Video {i}") for i in range(VIDEOS)]
            session.add_all(videos)
            session.commit()
            video_ids = [v.id for v in videos]
        clients = [bearer(s.database_url, f"client{n}") for n in range(CLIENTS)]

        def fill(auth: dict[str, str]) -> tuple[int, list[int]]:
            with httpx.Client(base_url=s.url, headers=auth, timeout=30) as client:
                created = client.post("/api/playlists", json={"name": "mine"})
                assert created.status_code == 201, created.text
                playlist_id: int = created.json()["id"]
                # Some at the end, some at the front: both shift the positions after them.
                statuses = [
                    client.post(
                        f"/api/playlists/{playlist_id}/videos",
                        json={"video_id": video_id, "position": 0 if i % 3 == 0 else None},
                    ).status_code
                    for i, video_id in enumerate(video_ids)
                ]
            return playlist_id, statuses

        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(fill, clients))
        with Session(engine) as session:
            for playlist_id, statuses in results:
                assert statuses == [201] * VIDEOS, statuses
                rows = session.execute(
                    select(PlaylistEntry.position, PlaylistEntry.video_id).where(
                        PlaylistEntry.playlist_id == playlist_id
                    )
                ).all()
                assert sorted(p for p, _ in rows) == list(range(VIDEOS))
                assert sorted(v for _, v in rows) == sorted(video_ids)
        engine.dispose()
