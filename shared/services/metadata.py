"""The database half of the metadata-provider routes.

A route looks up what it needs (plain ids), fetches from the provider, then hands the
parsed provider data to one of these functions. Flask fetches with the blocking client;
the FastAPI twin will await an async one and run these same functions via run_sync.
Names and titles are matched case-insensitively in Python (casefold), not in SQL: SQLite's
lower() only knows ASCII, and both databases must give the same answer for "Björk".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import Field, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.clients.metadata import ProviderArtist, ProviderArtistDetail, ProviderVideo
from shared.db.base import MAX_ID
from shared.db.models import Artist, Video
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.serializers import artist_json, video_json, video_row_of
from shared.services import find
from shared.validation import Body

T = TypeVar("T")

QUERY_MAX = 200
# Column sizes (models.py): provider text is clipped to fit, over-long URLs are dropped.
NAME_MAX = 255
THUMBNAIL_MAX = 1024
URL_MAX = 2048
INT_MAX = 2**31 - 1


class ImportArtist(Body):
    """`name` searches the provider; `imvdb_id` names the artist directly (and wins)."""

    name: str | None = Field(None, min_length=1, max_length=NAME_MAX)
    imvdb_id: int | None = Field(None, ge=1, le=MAX_ID)

    @model_validator(mode="after")
    def _one_given(self) -> ImportArtist:
        if self.name is None and self.imvdb_id is None:
            raise ValueError("name or imvdb_id is required")
        return self


def search_query(raw: str | None) -> str:
    query = (raw or "").strip()
    if not 1 <= len(query) <= QUERY_MAX:
        raise ValidationFailed(f"q is required, 1 to {QUERY_MAX} characters")
    return query


def search_json(query: str, results: Sequence[ProviderArtist]) -> dict[str, Any]:
    return {
        "query": query,
        "results": [
            {
                "imvdb_id": r.imvdb_id,
                "name": r.name,
                "slug": r.slug,
                "image_url": r.image_url,
                "video_count": r.video_count,
            }
            for r in results
        ],
        "total": len(results),
    }


def pick_match(results: Sequence[ProviderArtist], name: str) -> ProviderArtist:
    """The exact (case-insensitive) name match, else the provider's first result."""
    if not results:
        raise NotFound(f"No artist named {name!r} at the metadata provider")
    wanted = name.casefold()
    return next((r for r in results if r.name.casefold() == wanted), results[0])


# --- lookups before fetching: plain ids, so no ORM object outlives the provider wait ------


def get_artist(session: Session, artist_id: int) -> Artist:
    return find(session, Artist, artist_id, "Artist")


def get_video(session: Session, video_id: int) -> Video:
    return find(session, Video, video_id, "Video")


def discovery_target(session: Session, artist_id: int) -> int:
    """The provider id of the artist whose videos to discover."""
    imvdb_id = get_artist(session, artist_id).imvdb_id
    if imvdb_id is None:
        raise ValidationFailed("Artist has no imvdb_id; import it from IMVDb first")
    return imvdb_id


def refresh_target(session: Session, video_id: int) -> int:
    """The provider id of the video whose metadata to re-read."""
    imvdb_id = get_video(session, video_id).imvdb_id
    if imvdb_id is None:
        raise ValidationFailed("Video has no imvdb_id")
    return imvdb_id


# --- writes with the fetched data ----------------------------------------------------------


def import_artist(session: Session, found: ProviderArtistDetail) -> dict[str, Any]:
    name = _clip(found.name)
    if _artist_exists(session, found.imvdb_id, name):
        raise Conflict(f"Artist {name!r} is already in the library")
    artist = Artist(
        name=name,
        imvdb_id=found.imvdb_id,
        thumbnail_url=_fit(found.image_url, THUMBNAIL_MAX),
        genres=list(found.genres),
        monitored=True,
    )
    session.add(artist)
    _flush(session, f"Artist {name!r} is already in the library")
    return artist_json(artist, 0)


def new_videos(
    session: Session, artist_id: int, offered: Sequence[ProviderVideo]
) -> list[ProviderVideo]:
    """The offered videos not yet in the library, by imvdb_id (anywhere) or by title (the
    artist's); the provider's own repeats count once."""
    ids = {v.imvdb_id for v in offered}
    known_ids = set(session.scalars(select(Video.imvdb_id).where(Video.imvdb_id.in_(ids))))
    titles = {t.casefold() for t in _titles(session, artist_id)}
    fresh = []
    for video in offered:
        title = _clip(video.title).casefold()
        if video.imvdb_id in known_ids or title in titles:
            continue
        known_ids.add(video.imvdb_id)
        titles.add(title)
        fresh.append(video)
    return fresh


def add_discovered_videos(
    session: Session, artist_id: int, videos: Sequence[ProviderVideo]
) -> dict[str, Any]:
    """Add the new ones of all the artist's provider videos as wanted; count the rest skipped."""
    artist = get_artist(session, artist_id)  # it may have gone while the provider answered
    rows = [_video_row(artist_id, v) for v in new_videos(session, artist_id, videos)]
    session.add_all(rows)
    _flush(session, "Another discovery added these videos at the same time")
    return {
        "success": True,
        "added": len(rows),
        "skipped": len(videos) - len(rows),
        "videos": [video_json(video_row_of(row, artist.name)) for row in rows],
    }


def apply_video_metadata(session: Session, video_id: int, meta: ProviderVideo) -> dict[str, Any]:
    """Take the provider's title, year, duration and image; its source only if we have none.

    A value the provider leaves empty keeps ours rather than erasing it.
    """
    video = get_video(session, video_id)
    title = _clip(meta.title)
    others = _titles(session, video.artist_id, excluding=video.id)
    if title.casefold() in {t.casefold() for t in others}:
        raise Conflict(f"The artist already has a video titled {title!r}")
    video.title = title
    video.year = _keep(_small(meta.year), video.year)
    video.duration = _keep(_small(meta.duration), video.duration)
    video.thumbnail_url = _keep(_fit(meta.image_url, THUMBNAIL_MAX), video.thumbnail_url)
    if not video.url:
        video.url = _fit(meta.source_url, URL_MAX)
    _flush(session, f"The artist already has a video titled {title!r}")
    artist = get_artist(session, video.artist_id)
    return video_json(video_row_of(video, artist.name))


def _artist_exists(session: Session, imvdb_id: int, name: str) -> bool:
    if session.scalar(select(Artist.id).where(Artist.imvdb_id == imvdb_id)) is not None:
        return True
    wanted = name.casefold()
    return any(n.casefold() == wanted for n in session.scalars(select(Artist.name)))


def _titles(session: Session, artist_id: int, excluding: int | None = None) -> list[str]:
    query = select(Video.title).where(Video.artist_id == artist_id)
    if excluding is not None:
        query = query.where(Video.id != excluding)
    return list(session.scalars(query))


def _video_row(artist_id: int, video: ProviderVideo) -> Video:
    return Video(
        artist_id=artist_id,
        title=_clip(video.title),
        imvdb_id=video.imvdb_id,
        year=_small(video.year),
        duration=_small(video.duration),
        thumbnail_url=_fit(video.image_url, THUMBNAIL_MAX),
        url=_fit(video.source_url, URL_MAX),
        status="wanted",
    )


def _flush(session: Session, conflict: str) -> None:
    # Checked above, but a concurrent request can still win the race to a unique key.
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(conflict) from exc


def _clip(text: str) -> str:
    return text[:NAME_MAX]


def _fit(url: str | None, limit: int) -> str | None:
    """A URL cut short is a wrong URL: drop it instead."""
    return url if url is not None and len(url) <= limit else None


def _keep(new: T | None, old: T | None) -> T | None:
    return new if new is not None else old


def _small(value: int | None) -> int | None:
    """Years and durations the INT columns can hold; nonsense from the provider is dropped."""
    return value if value is not None and 0 <= value <= INT_MAX else None
