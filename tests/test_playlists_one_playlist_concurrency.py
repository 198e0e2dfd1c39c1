"""Clients writing ONE playlist at once, on MariaDB behind a real `figway serve`: the row
lock on the playlist serializes them, and each one reads the entries as the one before it
left them (positions stay 0..n-1, each once), on either side."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from shared.db.models import Artist, PlaylistEntry, Video
from tests.mariadb_sites import OWNERS, site

pytestmark = pytest.mark.mariadb

CLIENTS = 4
PER_CLIENT = 8


@pytest.mark.parametrize("owner", OWNERS)
def test_clients_adding_to_one_playlist_at_once_keep_positions_dense(tmp_path, owner):
    with site(tmp_path, owner) as s:
        engine = create_engine(s.database_url)
        with Session(engine) as session:
            artist = Artist(name="Artist", genres=[])
            session.add(artist)
            session.flush()
            videos = [
                Video(artist_id=artist.id, title=f"Video {i}") for i in range(CLIENTS * PER_CLIENT)
            ]
            session.add_all(videos)
            session.commit()
            video_ids = [v.id for v in videos]
        with httpx.Client(base_url=s.url, headers=s.auth, timeout=30) as client:
            created = client.post("/api/playlists", json={"name": "shared"})
            assert created.status_code == 201, created.text
            playlist_id: int = created.json()["id"]
        url = f"/api/playlists/{playlist_id}/videos"

        def fill(n: int) -> list[int]:
            mine = video_ids[n * PER_CLIENT : (n + 1) * PER_CLIENT]
            with httpx.Client(base_url=s.url, headers=s.auth, timeout=30) as client:
                return [
                    client.post(
                        url, json={"video_id": video_id, "position": 0 if i % 2 else None}
                    ).status_code
                    for i, video_id in enumerate(mine)
                ]

        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = [status for batch in pool.map(fill, range(CLIENTS)) for status in batch]
        assert statuses == [201] * len(video_ids), statuses
        with Session(engine) as session:
            rows = session.execute(
                select(PlaylistEntry.position, PlaylistEntry.video_id).where(
                    PlaylistEntry.playlist_id == playlist_id
                )
            ).all()
        assert sorted(p for p, _ in rows) == list(range(len(video_ids)))
        assert sorted(v for _, v in rows) == sorted(video_ids)
        engine.dispose()
