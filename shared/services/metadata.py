"""The database half of the metadata-provider routes, as plans (shared/db/plan.py).

A route looks up what it needs (plain ids), fetches from the provider, then hands the
parsed provider data to one of these plans. Flask fetches with the blocking client and
runs the plans on its Session (`run`); the FastAPI twin awaits the async client and the
same plans on its connection (`arun`). Each plan is the work of one transaction, never
spanning a provider call: the routes end the transaction before each wait.
Names and titles are matched case-insensitively in Python (casefold), not in SQL: SQLite's
lower() only knows ASCII, and both databases must give the same answer for "Björk".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import Field, model_validator
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from shared.clients.metadata import ProviderArtist, ProviderArtistDetail, ProviderVideo
from shared.db.base import MAX_ID
from shared.db.plan import Plan
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.serializers import Row, artist_row_json, video_json
from shared.services import valid_id
from shared.services.videos import ARTISTS, VIDEO_STMT, VIDEOS, video_params, video_rows_stmt
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


# --- statements ---------------------------------------------------------------------------

_ARTIST_IMVDB_STMT = select(ARTISTS.c.imvdb_id).where(ARTISTS.c.id == bindparam("artist_id"))
_VIDEO_IMVDB_STMT = select(VIDEOS.c.imvdb_id).where(VIDEOS.c.id == bindparam("video_id"))
_ARTIST_STMT = select(ARTISTS).where(ARTISTS.c.id == bindparam("artist_id"))
_ARTIST_NAME_STMT = select(ARTISTS.c.name).where(ARTISTS.c.id == bindparam("artist_id"))
# Every name, for the casefolded comparison (not SQL's lower(), see above), and whether
# the artist holds the provider id, in one round trip.
_ARTISTS_TAKEN_STMT = select(
    ARTISTS.c.name, (ARTISTS.c.imvdb_id == bindparam("imvdb_id")).label("same_id")
)
# The videos an offer may repeat: any holding one of its provider ids, and the artist's
# own (for their titles), in one round trip.
_KNOWN_VIDEOS_STMT = select(VIDEOS.c.artist_id, VIDEOS.c.imvdb_id, VIDEOS.c.title).where(
    or_(
        VIDEOS.c.imvdb_id.in_(bindparam("ids", expanding=True)),
        VIDEOS.c.artist_id == bindparam("artist_id"),
    )
)
_OTHER_TITLES_STMT = select(VIDEOS.c.title).where(
    VIDEOS.c.artist_id == bindparam("artist_id"), VIDEOS.c.id != bindparam("video_id")
)
_DISCOVERED_STMT = video_rows_stmt().where(
    VIDEOS.c.artist_id == bindparam("artist_id"),
    VIDEOS.c.imvdb_id.in_(bindparam("ids", expanding=True)),
)


def _artist_params(artist_id: int) -> dict[str, int]:
    """An id out of range cannot exist (and must not reach the driver)."""
    if not valid_id(artist_id):
        raise NotFound("Artist not found")
    return {"artist_id": artist_id}


# --- lookups before fetching: plain ids, read in a transaction ended before the wait ------


def discovery_target(artist_id: int) -> Plan[int]:
    """The provider id of the artist whose videos to discover."""
    row = (yield _ARTIST_IMVDB_STMT, _artist_params(artist_id)).one_or_none()
    if row is None:
        raise NotFound("Artist not found")
    if row.imvdb_id is None:
        raise ValidationFailed("Artist has no imvdb_id; import it from IMVDb first")
    imvdb_id: int = row.imvdb_id
    return imvdb_id


def refresh_target(video_id: int) -> Plan[int]:
    """The provider id of the video whose metadata to re-read."""
    row = (yield _VIDEO_IMVDB_STMT, video_params(video_id)).one_or_none()
    if row is None:
        raise NotFound("Video not found")
    if row.imvdb_id is None:
        raise ValidationFailed("Video has no imvdb_id")
    imvdb_id: int = row.imvdb_id
    return imvdb_id


def new_videos(artist_id: int, offered: Sequence[ProviderVideo]) -> Plan[list[ProviderVideo]]:
    """The offered videos not yet in the library, by imvdb_id (anywhere) or by title (the
    artist's); the provider's own repeats count once."""
    ids = sorted({v.imvdb_id for v in offered})
    rows = (yield _KNOWN_VIDEOS_STMT, {"ids": ids, "artist_id": artist_id}).all()
    return _fresh(artist_id, rows, offered)


def _fresh(
    artist_id: int, known: Sequence[Any], offered: Sequence[ProviderVideo]
) -> list[ProviderVideo]:
    offered_ids = {v.imvdb_id for v in offered}
    known_ids = {r.imvdb_id for r in known if r.imvdb_id in offered_ids}
    titles = {r.title.casefold() for r in known if r.artist_id == artist_id}
    fresh = []
    for video in offered:
        title = _clip(video.title).casefold()
        if video.imvdb_id in known_ids or title in titles:
            continue
        known_ids.add(video.imvdb_id)
        titles.add(title)
        fresh.append(video)
    return fresh


# --- writes with the fetched data ----------------------------------------------------------


def import_artist(found: ProviderArtistDetail) -> Plan[dict[str, Any]]:
    name = _clip(found.name)
    conflict = f"Artist {name!r} is already in the library"
    wanted = name.casefold()
    taken = (yield _ARTISTS_TAKEN_STMT, {"imvdb_id": found.imvdb_id}).all()
    if any(r.same_id or r.name.casefold() == wanted for r in taken):
        raise Conflict(conflict)
    values = {
        "name": name,
        "imvdb_id": found.imvdb_id,
        "thumbnail_url": _fit(found.image_url, THUMBNAIL_MAX),
        "genres": list(found.genres),
        "monitored": True,
    }
    try:
        result = yield insert(ARTISTS).values(**values)
    except IntegrityError as exc:  # a concurrent import between the check and here
        raise Conflict(conflict) from exc
    artist_id: int = result.inserted_primary_key[0]  # type: ignore[index]  # never None after an INSERT
    row = (yield _ARTIST_STMT, {"artist_id": artist_id}).mappings().one()
    return artist_row_json({**row, "video_count": 0})


def add_discovered_videos(artist_id: int, videos: Sequence[ProviderVideo]) -> Plan[dict[str, Any]]:
    """Add the new ones of all the artist's provider videos as wanted; count the rest skipped."""
    # The artist may have gone while the provider answered.
    artist = (yield _ARTIST_NAME_STMT, _artist_params(artist_id)).one_or_none()
    if artist is None:
        raise NotFound("Artist not found")
    todo = yield from new_videos(artist_id, videos)
    added: list[Row] = []
    if todo:
        try:
            yield insert(VIDEOS), [_video_values(artist_id, v) for v in todo]
        except IntegrityError as exc:
            raise Conflict("Another discovery added these videos at the same time") from exc
        ids = [v.imvdb_id for v in todo]
        rows = (yield _DISCOVERED_STMT, {"artist_id": artist_id, "ids": ids}).mappings().all()
        by_id = {row["imvdb_id"]: row for row in rows}
        added = [by_id[i] for i in ids]  # in the order the provider offered them
    return {
        "success": True,
        "added": len(added),
        "skipped": len(videos) - len(added),
        "videos": [video_json(row) for row in added],
    }


def apply_video_metadata(video_id: int, meta: ProviderVideo) -> Plan[dict[str, Any]]:
    """Take the provider's title, year, duration and image; its source only if we have none.

    A value the provider leaves empty keeps ours rather than erasing it.
    """
    video = (yield VIDEO_STMT, video_params(video_id)).mappings().one_or_none()
    if video is None:
        raise NotFound("Video not found")
    title = _clip(meta.title)
    conflict = f"The artist already has a video titled {title!r}"
    others = yield _OTHER_TITLES_STMT, {"artist_id": video["artist_id"], "video_id": video_id}
    if title.casefold() in {t.casefold() for t in others.scalars()}:
        raise Conflict(conflict)
    wanted: dict[str, Any] = {
        "title": title,
        "year": _keep(_small(meta.year), video["year"]),
        "duration": _keep(_small(meta.duration), video["duration"]),
        "thumbnail_url": _keep(_fit(meta.image_url, THUMBNAIL_MAX), video["thumbnail_url"]),
    }
    if not video["url"]:
        wanted["url"] = _fit(meta.source_url, URL_MAX)
    # As the ORM's flush did: a value set to what it was changes nothing, updated_at
    # included; a real change moves updated_at through the column's onupdate.
    changed = {key: value for key, value in wanted.items() if video[key] != value}
    if not changed:
        return video_json(video)
    try:
        yield update(VIDEOS).where(VIDEOS.c.id == video_id).values(**changed)
    except IntegrityError as exc:
        raise Conflict(conflict) from exc
    return video_json((yield VIDEO_STMT, video_params(video_id)).mappings().one())


def _video_values(artist_id: int, video: ProviderVideo) -> dict[str, Any]:
    return {
        "artist_id": artist_id,
        "title": _clip(video.title),
        "imvdb_id": video.imvdb_id,
        "year": _small(video.year),
        "duration": _small(video.duration),
        "thumbnail_url": _fit(video.image_url, THUMBNAIL_MAX),
        "url": _fit(video.source_url, URL_MAX),
        "status": "wanted",
    }


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
