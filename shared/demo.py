"""`figway seed-demo`: an admin user and a small demo library with real media files."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.auth.passwords import hash_password
from shared.config import Settings
from shared.db.models import Artist, Playlist, PlaylistEntry, User, Video
from shared.media.ffmpeg import ffmpeg_exe, make_sample_video

ADMIN_USERNAME = "admin"

# (artist, imvdb id, genres, [(title, year, has a local file)])
DEMO_LIBRARY: list[tuple[str, int, list[str], list[tuple[str, int, bool]]]] = [
    (
        "Daft Punk",
        1001,
        ["electronic"],
        [
            ("Around the World", 1997, True),
            ("Da Funk", 1995, True),
            ("One More Time", 2000, False),
        ],
    ),
    ("Björk", 1002, ["art pop"], [("Army of Me", 1995, True), ("Hyperballad", 1996, False)]),
    (
        "OK Go",
        1003,
        ["rock"],
        [
            ("Here It Goes Again", 2006, False),
            ("This Too Shall Pass", 2010, False),
        ],
    ),
]


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


def _demo_source(settings: Settings, imvdb_id: int) -> str:
    """Where a demo video downloads from: the (fake) provider's media, like real sources."""
    return f"{settings.metadata_base_url.rstrip('/')}/videos/{imvdb_id}.mp4"


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
    exe = ffmpeg_exe(settings)
    n_videos = n_files = 0
    with sessions() as session, session.begin():
        playlist = Playlist(
            name="Demo favourites",
            description="Made by figway seed-demo",
            is_public=True,
            owner_id=admin_id,
        )
        session.add(playlist)
        for name, imvdb_id, genres, titles in DEMO_LIBRARY:
            artist = Artist(name=name, imvdb_id=imvdb_id, genres=genres, monitored=True)
            session.add(artist)
            session.flush()
            for index, (title, year, has_file) in enumerate(titles):
                video = Video(
                    artist_id=artist.id,
                    title=title,
                    year=year,
                    imvdb_id=imvdb_id * 100 + index,
                    url=_demo_source(settings, imvdb_id * 100 + index),
                    status="downloaded" if has_file else "wanted",
                    duration=2,
                )
                session.add(video)
                session.flush()
                n_videos += 1
                if has_file:
                    path = settings.media_dir / "videos" / str(video.id) / "demo.mp4"
                    say(f"  making {path.name} for {title!r} with ffmpeg")
                    make_sample_video(exe, path, seconds=2)
                    video.file_path = str(path)
                    video.file_size = path.stat().st_size
                    n_files += 1
                    session.add(
                        PlaylistEntry(
                            playlist_id=playlist.id, video_id=video.id, position=n_files - 1
                        )
                    )
    return len(DEMO_LIBRARY), n_videos, n_files
