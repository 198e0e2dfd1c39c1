"""The pages only the FastAPI side has (legacy-api.md, "New capabilities"): search, one
playlist, the download queue, admin. Server-rendered from the shared templates; their actions
are small scripts (shared/web/static/js) calling the JSON API.

Auth as the legacy pages answer it, by their twins' guard (fastapi_app/page_guard.py):
anonymous -> 302 /login?next=<path?query>, below the level -> the 403 page; a playlist the
caller may not see -> the 404 page. Not in the manifest (it
lists legacy routes): the gateway sends these paths here whoever owns the rest.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from fastapi_app.deps import ConnectionDep, SettingsDep
from fastapi_app.page_guard import Admin, PageRoute, Reader, Writer
from shared.auth.roles import ROLES, has_role
from shared.db.engine import end_connection
from shared.db.models import DOWNLOAD_ACTIVE
from shared.errors import NotFound, ValidationFailed
from shared.pagination import LimitOffset, PageNumber
from shared.services import artists as artists_service
from shared.services import downloads as downloads_service
from shared.services import playlists as playlists_service
from shared.services import system
from shared.services import users as users_service
from shared.services import videos as videos_service
from shared.services.pages import Page, not_found

# Pages, not API operations; the guard's refusals are answered by PageRoute.
router = APIRouter(route_class=PageRoute, include_in_schema=False)

SEARCH_LIMIT = 50  # of each kind: a page of results, not the library
LOG_LINES = 200


@router.get("/search")
async def search(visit: Reader, db: ConnectionDep, q: Annotated[str, Query()] = "") -> Response:
    role = visit.user.role
    q = q.strip()
    context: dict[str, Any] = {"q": q, "videos": None, "artists": None, "problem": None}
    if q:
        try:
            videos_service.search_query({"q": q})  # the API's bounds, worded as it words them
        except ValidationFailed as exc:
            context["problem"] = exc.message
        else:
            context.update(await _library_matches(db, q))
    context["can_search_provider"] = has_role(role, "user")
    context["can_import"] = has_role(role, "manager")
    return visit.show(Page("search.html", context))


async def _library_matches(db: AsyncConnection, q: str) -> dict[str, Any]:
    """The videos and artists matching `q`: the statements of GET /api/videos/search and
    GET /api/artists?search=, answered by their own JSON functions."""
    found = await db.execute(videos_service.search_stmt(q, LimitOffset(SEARCH_LIMIT, 0)))
    videos = videos_service.search_json(found.mappings().all(), q)["videos"]
    page = PageNumber(1, SEARCH_LIMIT)
    query = artists_service.ArtistQuery(search=q)
    listed = await db.execute(artists_service.artists_page_stmt(query, page))
    artists = artists_service.artists_page_json(listed.mappings().all(), page)
    return {"videos": videos, "artists": artists["artists"], "artist_total": artists["total"]}


@router.get("/playlists/{playlist_id:int}")
async def playlist(visit: Reader, playlist_id: int, db: ConnectionDep) -> Response:
    user = visit.user
    try:
        params = playlists_service.playlist_params(playlist_id)
        rows = (await db.execute(playlists_service.PLAYLIST_STMT, params)).mappings().all()
        found = playlists_service.detail_json(user, rows)
    except NotFound:
        return visit.show(not_found("Playlist"))
    owner = await db.execute(users_service.USER_STMT, {"user_id": found["owner_id"]})
    owner_row = owner.mappings().one_or_none()
    context = {
        "playlist": found,
        "owner": owner_row["username"] if owner_row is not None else None,
        "yours": found["owner_id"] == user.id,
        "can_edit": found["owner_id"] == user.id or has_role(user.role, "admin"),
    }
    return visit.show(Page("playlist.html", context))


@router.get("/downloads")
async def downloads(visit: Writer, db: ConnectionDep) -> Response:
    rows = (await db.execute(downloads_service.QUEUE_STMT)).mappings().all()
    context = {
        "downloads": rows,
        "live_statuses": DOWNLOAD_ACTIVE,
        "finished": downloads_service.FINISHED,
        "can_remove": has_role(visit.user.role, "manager"),
        "shown_max": downloads_service.QUEUE_PAGE_SIZE,
    }
    return visit.show(Page("downloads.html", context))


@router.get("/admin")
async def admin(visit: Admin, db: ConnectionDep, settings: SettingsDep) -> Response:
    users = (await db.execute(users_service.USERS_STMT)).mappings().all()
    # Not held while the version commands run (up to VERSION_TIMEOUT_S), as the metadata
    # routes give theirs back before a provider wait.
    await end_connection(db)
    # The commands on asyncio subprocesses, as GET /api/admin/system runs them, while a
    # thread reads the log; then the figures of /proc and the disk on a thread too.
    versions, log = await asyncio.gather(
        system.tool_versions_async(settings),
        asyncio.to_thread(system.log_json, settings, LOG_LINES),
    )
    figures = await asyncio.to_thread(system.system_figures, versions, settings)
    context = {
        "system": figures,
        "users": users,
        "roles": ROLES,
        "log_lines": log["lines"],
        "log_max": LOG_LINES,
        "viewer_id": visit.user.id,
    }
    return visit.show(Page("admin.html", context))
