"""`figway seed-demo`: an admin with a password shown once, a demo library with real files."""

from __future__ import annotations

import re

from shared.auth.passwords import verify_password
from shared.db.engine import create_sync_engine, sync_sessionmaker
from shared.db.models import Artist, Playlist, PlaylistEntry, User, Video
from shared.demo import seed_demo


def test_seed_generates_a_password_once_and_files_that_exist(settings):
    lines: list[str] = []
    engine = create_sync_engine(settings)
    sessions = sync_sessionmaker(engine)
    try:
        first = seed_demo(settings, sessions, say=lines.append)
        shown = [line for line in lines if "generated admin password" in line]
        assert len(shown) == 1
        found = re.search(r": (\S+)$", shown[0])
        assert found is not None
        password = found.group(1)
        assert first.admin_password == password and first.admin_created
        with sessions() as session:
            admin = session.query(User).filter_by(role="admin").one()
            assert verify_password(password, admin.password_hash)
            videos = session.query(Video).all()
            assert session.query(Artist).count() == 3 and len(videos) == 7
            with_files = [v for v in videos if v.file_path]
            assert len(with_files) == first.files == 3
            for video in with_files:
                assert video.file_path is not None
                data = (settings.media_dir / video.file_path).read_bytes()
                assert data[4:8] == b"ftyp" and video.status == "downloaded"
            assert session.query(Playlist).count() == 1
            assert session.query(PlaylistEntry).count() == 3
        lines.clear()
        again = seed_demo(settings, sessions, say=lines.append)
        assert not again.admin_created and again.admin_password is None
        assert not any("password" in line for line in lines)
        with sessions() as session:
            assert session.query(Video).count() == 7
    finally:
        engine.dispose()


def test_seed_uses_the_configured_admin_password(settings):
    from pydantic import SecretStr

    configured = settings.model_copy(update={"admin_password": SecretStr("from-the-env-123")})
    lines: list[str] = []
    engine = create_sync_engine(configured)
    try:
        result = seed_demo(configured, sync_sessionmaker(engine), say=lines.append)
        assert result.admin_created and not any("generated" in line for line in lines)
        with sync_sessionmaker(engine)() as session:
            admin = session.query(User).filter_by(username="admin").one()
            assert verify_password("from-the-env-123", admin.password_hash)
    finally:
        engine.dispose()
