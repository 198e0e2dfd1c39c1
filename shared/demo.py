"""`figway seed-demo`: an admin user and a small demo library with real media files.

The library is the fake provider's demo artists (shared/fakes/metadata_provider.py): one
list, so what the seed adds is what the provider finds.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.auth.passwords import hash_password
from shared.config import Settings
from shared.db.models import Artist, Playlist, PlaylistEntry, User, Video
from shared.fakes.metadata_provider import build_catalogue
from shared.media.ffmpeg import ffmpeg_exe, make_sample_video
from shared.media.paths import media_root, to_stored

ADMIN_USERNAME = "admin"
# How many of each demo artist's videos are on disk already; the rest are wanted, for a
# first download to fetch from the provider.
FILES_PER_ARTIST = 1


@dataclass
class SeedResult:
    admin_created: bool
    admin_password: str | None
    artists: int
    videos: int
    files: int


def seed_demo(
    settings: Settings, sessions: sessionmaker[Session], say: Callable[[str], None] = print
) -> SeedResult:
    """Idempotent: the admin only if no admin exists, the library only into an empty one."""
    with sessions() as session, session.begin():
        created, password = _ensure_admin(session, settings)
        admin_id = session.scalars(select(User.id).where(User.role == "admin")).first()
    if created and password is not None:
        say(f"created user {ADMIN_USERNAME!r}")
        if settings.admin_password is None:
            say(f"  generated admin password (shown once): {password}")
    with sessions() as session:
        if session.scalar(select(func.count()).select_from(Artist)):
            say("library not empty: demo library left as it is")
            return SeedResult(created, password if created else None, 0, 0, 0)
    assert admin_id is not None
    artists, videos, files = _seed_library(settings, sessions, admin_id, say)
    say(f"demo library: {artists} artists, {videos} videos, {files} media files")
    return SeedResult(created, password if created else None, artists, videos, files)


def _ensure_admin(session: Session, settings: Settings) -> tuple[bool, str | None]:
    if session.scalar(select(User.id).where(User.role == "admin")) is not None:
        return False, None
    password = (
        settings.admin_password.get_secret_value()
        if settings.admin_password is not None
        else secrets.token_urlsafe(12)
    )
    session.add(
        User(
            username=ADMIN_USERNAME,
            role="admin",
            preferences={},
            password_hash=hash_password(password, n=settings.password_scrypt_n),
        )
    )
    return True, password


def _seed_library(
    settings: Settings, sessions: sessionmaker[Session], admin_id: int, say: Callable[[str], None]
) -> tuple[int, int, int]:
    """The provider's demo artists and their videos, as an import and a discovery would add
    them, except the url: none is stored, so a download asks the provider configured then
    for the video's source (an address in the row would break when METADATA_BASE_URL moves)."""
    exe = ffmpeg_exe(settings)
    catalogue = build_catalogue()
    demo = catalogue.demo_artists()
    n_videos = n_files = 0
    with sessions() as session, session.begin():
        playlist = Playlist(
            name="Demo favourites",
            description="Made by figway seed-demo",
            is_public=True,
            owner_id=admin_id,
        )
        session.add(playlist)
        for entry in demo:
            artist = Artist(
                name=entry.name, imvdb_id=entry.id, genres=list(entry.genres), monitored=True
            )
            session.add(artist)
            session.flush()
            for index, video_id in enumerate(entry.video_ids):
                known = catalogue.videos[video_id]
                has_file = index < FILES_PER_ARTIST
                video = Video(
                    artist_id=artist.id,
                    title=known.title,
                    year=known.year,
                    imvdb_id=known.id,
                    status="downloaded" if has_file else "wanted",
                    duration=known.duration_seconds,
                )
                session.add(video)
                session.flush()
                n_videos += 1
                if has_file:
                    path = media_root(settings.media_dir) / "videos" / str(video.id) / "demo.mp4"
                    say(f"  making {path.name} for {known.title!r} with ffmpeg")
                    make_sample_video(exe, path, seconds=known.duration_seconds)
                    video.file_path = to_stored(settings.media_dir, path)
                    video.file_size = path.stat().st_size
                    n_files += 1
                    session.add(
                        PlaylistEntry(
                            playlist_id=playlist.id, video_id=video.id, position=n_files - 1
                        )
                    )
    return len(demo), n_videos, n_files
