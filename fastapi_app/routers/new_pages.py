"""The pages only the FastAPI side has (legacy-api.md, "New capabilities"): search, one
playlist, the download queue, admin. Server-rendered from the shared templates; their actions
are small scripts (shared/web/static/js) calling the JSON API.

Auth as the legacy pages answer it: anonymous -> 302 /login?next=<path>, below the level ->
the 403 page, a playlist the caller may not see -> the 404 page. Not in the manifest (it
lists legacy routes): the gateway sends these paths here whoever owns the rest.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncConnection

from fastapi_app.deps import ConnectionDep, OptionalUser, SettingsDep
from fastapi_app.pages import redirect, templates
from shared.auth.roles import ROLES, AuthLevel, has_role
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
from shared.services.auth import Caller

router = APIRouter(include_in_schema=False)  # pages, not API operations

SEARCH_LIMIT = 50  # of each kind: a page of results, not the library
LOG_LINES = 200
FORBIDDEN_PAGE = "You do not have permission to see this page."
PAGE_TEMPLATES = ("search.html", "playlist.html", "downloads.html", "admin.html", "error.html")


# --- rendering ------------------------------------------------------------------------
# TODO(lead): the `when` filter and the `viewer` context are registered by the Flask
# blueprint (legacy_flask/blueprints/pages.py) today, and are being moved to shared/ by the
# pages' twins; these are the minimal stand-ins the new pages need until then.


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


@functools.cache
def page_templates() -> Environment:
    """The shared templates, loaded once (the app calls this when it is built): rendering
    then reads no file on the event loop, not even the mtime check of auto_reload."""
    env = templates()
    env.auto_reload = False
    env.filters["when"] = _when
    for name in PAGE_TEMPLATES:
        env.get_template(name)  # and what each extends or imports, compiled with it
    return env


def _viewer(user: Caller) -> dict[str, Any]:
    return {"username": user.username, "role": user.role, "is_admin": has_role(user.role, "admin")}


def render(user: Caller | None, name: str, **context: Any) -> HTMLResponse:
    viewer = _viewer(user) if user is not None else None
    html = page_templates().get_template(name).render(viewer=viewer, **context)
    return HTMLResponse(html)


def error_page(user: Caller, status: int, message: str) -> HTMLResponse:
    response = render(user, "error.html", status=status, message=message)
    response.status_code = status
    return response


def refusal(request: Request, user: Caller | None, level: AuthLevel) -> Response | None:
    """What a page answers instead of itself, as legacy_flask.auth.page does; None: go on."""
    if user is None:
        query = request.url.query
        target = request.url.path + (f"?{query}" if query else "")
        return redirect(f"/login?next={quote(target, safe='/')}")
    if not has_role(user.role, level):
        return error_page(user, 403, FORBIDDEN_PAGE)
    return None


# --- pages ----------------------------------------------------------------------------


@router.get("/search")
async def search(
    request: Request,
    user: OptionalUser,
    db: ConnectionDep,
    q: Annotated[str, Query()] = "",
) -> Response:
    refused = refusal(request, user, "readonly")
    if refused is not None:
        return refused
    assert user is not None
    q = q.strip()
    context: dict[str, Any] = {"q": q, "videos": None, "artists": None, "problem": None}
    if q:
        try:
            videos_service.search_query({"q": q})  # the API's bounds, worded as it words them
        except ValidationFailed as exc:
            context["problem"] = exc.message
        else:
            context.update(await _library_matches(db, q))
    return render(
        user,
        "search.html",
        can_search_provider=has_role(user.role, "user"),
        can_import=has_role(user.role, "manager"),
        **context,
    )


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
async def playlist(
    request: Request, playlist_id: int, user: OptionalUser, db: ConnectionDep
) -> Response:
    refused = refusal(request, user, "readonly")
    if refused is not None:
        return refused
    assert user is not None
    try:
        params = playlists_service.playlist_params(playlist_id)
        rows = (await db.execute(playlists_service.PLAYLIST_STMT, params)).mappings().all()
        found = playlists_service.detail_json(user, rows)
    except NotFound:
        return error_page(user, 404, "Playlist not found.")
    owner = await db.execute(users_service.USER_STMT, {"user_id": found["owner_id"]})
    owner_row = owner.mappings().one_or_none()
    return render(
        user,
        "playlist.html",
        playlist=found,
        owner=owner_row["username"] if owner_row is not None else None,
        yours=found["owner_id"] == user.id,
        can_edit=found["owner_id"] == user.id or has_role(user.role, "admin"),
    )


@router.get("/downloads")
async def downloads(request: Request, user: OptionalUser, db: ConnectionDep) -> Response:
    refused = refusal(request, user, "user")
    if refused is not None:
        return refused
    assert user is not None
    rows = (await db.execute(downloads_service.QUEUE_STMT)).mappings().all()
    return render(
        user,
        "downloads.html",
        downloads=rows,
        live_statuses=DOWNLOAD_ACTIVE,
        finished=downloads_service.FINISHED,
        can_remove=has_role(user.role, "manager"),
        shown_max=downloads_service.QUEUE_PAGE_SIZE,
    )


@router.get("/admin")
async def admin(
    request: Request, user: OptionalUser, db: ConnectionDep, settings: SettingsDep
) -> Response:
    refused = refusal(request, user, "admin")
    if refused is not None:
        return refused
    assert user is not None
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
    return render(
        user,
        "admin.html",
        system=figures,
        users=users,
        roles=ROLES,
        log_lines=log["lines"],
        log_max=LOG_LINES,
        viewer_id=user.id,
    )
