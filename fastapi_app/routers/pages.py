"""The server-rendered pages: the twins of legacy_flask/blueprints/pages.py.

Each awaits the plan of shared/services/pages.py on the request's connection and renders
its template (fastapi_app/pages.py) on the loop: CPU work only. Auth is the legacy
`page(level)` decorator's (fastapi_app/page_guard.py): anonymous -> 302 to
/login?next=<path?query>, a role below the level -> the 403 page. Pages are no API
operations: they stay out of /openapi.json.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from fastapi_app.deps import ConnectionDep
from fastapi_app.page_guard import Admin, PageRoute, Public, Reader
from shared.auth.roles import has_role
from shared.db.plan import arun
from shared.services import pages
from shared.services.auth import login_page_context
from shared.services.pages import Page

router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)
Arg = Annotated[str | None, Query()]


@router.get("/login")
async def login(
    visit: Public,
    next_: Annotated[str | None, Query(alias="next")] = None,
    error: Arg = None,
    username: Arg = None,
) -> Response:
    args = {"next": next_, "error": error, "username": username}
    context = login_page_context({k: v for k, v in args.items() if v is not None})
    return visit.show(Page("login.html", dict(context)))


@router.get("/")
async def dashboard(visit: Reader, db: ConnectionDep) -> Response:
    return visit.show(await arun(db, pages.dashboard, visit.user.id))


@router.get("/artists")
async def artists(visit: Reader, db: ConnectionDep, page: Arg = None) -> Response:
    return visit.show(await arun(db, pages.artists, page))


@router.get("/artists/{artist_id:int}")
async def artist(visit: Reader, artist_id: int, db: ConnectionDep) -> Response:
    return visit.show(await arun(db, pages.artist, artist_id))


@router.get("/videos")
async def videos(
    visit: Reader,
    db: ConnectionDep,
    status: Arg = None,
    limit: Arg = None,
    offset: Arg = None,
) -> Response:
    return visit.show(await arun(db, pages.videos, status, limit, offset))


@router.get("/videos/{video_id:int}")
async def video(visit: Reader, video_id: int, db: ConnectionDep) -> Response:
    can_download = has_role(visit.user.role, "user")
    return visit.show(await arun(db, pages.video, video_id, can_download))


@router.get("/playlists")
async def playlists(visit: Reader, db: ConnectionDep) -> Response:
    return visit.show(await arun(db, pages.playlists, visit.user.id))


@router.get("/settings")
async def settings(visit: Admin, db: ConnectionDep) -> Response:
    return visit.show(await arun(db, pages.settings))
