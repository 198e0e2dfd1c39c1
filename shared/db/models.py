"""One set of models for the sync (Flask) and async (FastAPI) sessions.

Relationships are lazy="raise": a query that needs related rows says so, which keeps
the async side free of implicit IO and both sides executing the same SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.auth.roles import ROLES
from shared.clock import utcnow
from shared.db.base import MYSQL_TABLE_ARGS, Base, UTCDateTime

__all__ = [
    "DOWNLOAD_ACTIVE",
    "DOWNLOAD_STATUSES",
    "ROLES",
    "VIDEO_STATUSES",
    "Artist",
    "Base",
    "Download",
    "LoginThrottle",
    "ManifestChange",
    "Playlist",
    "PlaylistEntry",
    "Setting",
    "User",
    "UserSession",
    "Video",
]

VIDEO_STATUSES = ("wanted", "downloading", "downloaded", "ignored", "failed")
DOWNLOAD_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
DOWNLOAD_ACTIVE = ("queued", "running")


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="user")
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    failed_login_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed logins from one client address in its current window, for every process of
    both sides alike (the row, not a process's memory, is what counts)."""

    __tablename__ = "login_throttle"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class UserSession(Base):
    """A logged-in browser session; the cookie holds the token, the row holds the truth."""

    __tablename__ = "user_sessions"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # sha256 of the token: a leaked table does not leak live sessions.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class Artist(TimestampMixin, Base):
    __tablename__ = "artists"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    imvdb_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    thumbnail_url: Mapped[str | None] = mapped_column(String(1024))
    # Server path of an uploaded image; never serialized.
    thumbnail_path: Mapped[str | None] = mapped_column(String(1024))
    monitored: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    genres: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)

    videos: Mapped[list[Video]] = relationship(
        back_populates="artist", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )


class Video(TimestampMixin, Base):
    __tablename__ = "videos"
    __table_args__ = (
        UniqueConstraint("artist_id", "title"),
        Index("ix_videos_status", "status"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    artist_id: Mapped[int] = mapped_column(
        ForeignKey("artists.id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    url: Mapped[str | None] = mapped_column(String(2048))
    imvdb_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    year: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="wanted")
    thumbnail_url: Mapped[str | None] = mapped_column(String(1024))
    # Server paths; never serialized (has_file is).
    file_path: Mapped[str | None] = mapped_column(String(1024))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    thumbnail_path: Mapped[str | None] = mapped_column(String(1024))

    artist: Mapped[Artist] = relationship(back_populates="videos", lazy="raise")


class Download(Base):
    __tablename__ = "downloads"
    __table_args__ = (Index("ix_downloads_status", "status"), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), nullable=False, index=True
    )
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    file_path: Mapped[str | None] = mapped_column(String(1024))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    error_message: Mapped[str | None] = mapped_column(Text)
    # Who runs it (a thread name, a Celery task id) and when it last said so.
    worker_id: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Playlist(TimestampMixin, Base):
    __tablename__ = "playlists"
    __table_args__ = (UniqueConstraint("owner_id", "name"), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )


class PlaylistEntry(Base):
    __tablename__ = "playlist_entries"
    __table_args__ = (
        UniqueConstraint("playlist_id", "video_id"),
        Index("ix_playlist_entries_playlist_position", "playlist_id", "position"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    playlist_id: Mapped[int] = mapped_column(
        ForeignKey("playlists.id", ondelete="CASCADE"), nullable=False
    )
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Setting(Base):
    __tablename__ = "settings"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    # JSON-encoded, so a number stays a number on the way back.
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    description: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class ManifestChange(Base):
    """One route's ownership change: the audit history of flips, rollouts and rollbacks."""

    __tablename__ = "manifest_changes"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    actor: Mapped[str] = mapped_column(String(80), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # cli or api
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # flip, rollout, rollback
    route: Mapped[str] = mapped_column(String(255), nullable=False)
    phase: Mapped[int | None] = mapped_column(Integer)
    from_owner: Mapped[str] = mapped_column(String(16), nullable=False)
    to_owner: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
