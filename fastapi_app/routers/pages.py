"""The server-rendered pages: the twins of legacy_flask/blueprints/pages.py.

Each awaits the plan of shared/services/pages.py on the request's connection and renders
its template (fastapi_app/pages.py) on the loop: CPU work only. Auth is the legacy
`page(level)` decorator's: anonymous -> 302 to /login?next=<path?query>, a role below the
level -> the 403 page. Pages are no API operations: they stay out of /openapi.json.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from fastapi_app.deps import ConnectionDep, ModernDep, OptionalUser
from fastapi_app.pages import redirect, render
from fastapi_app.query import raw_query_string
from shared.auth.roles import AuthLevel, has_role
from shared.db.plan import arun
from shared.services import pages
from shared.services.auth import Caller, login_page_context
from shared.services.pages import Page
from shared.web.pages import ERROR_TEMPLATE, FORBIDDEN_PAGE, login_location


class _Refused(Exception):
    """A page's guard answered already (the login redirect, the 403 page)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class PageRoute(APIRoute):
    """An APIRoute that answers with the response its guard refused the request with."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except _Refused as refused:
                return refused.response

        return guarded


router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True)
class Visit:
    """Who a page is shown to, and the headers Flask's session adds to its answer."""

    caller: Caller | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> Caller:
        assert self.caller is not None  # the guard let the request through
        return self.caller


def page(level: AuthLevel) -> Callable[..., Coroutine[Any, Any, Visit]]:
    """The guard of a page of `level` (declared for the manifest checks, as `require`)."""

    async def public() -> Visit:
        return Visit()

    async def guard(request: Request, user: OptionalUser, state: ModernDep) -> Visit:
        # Flask reads the session cookie to find a caller without a bearer token, and a
        # read session makes its answer vary by Cookie.
        bearer = request.headers.get("authorization", "")[:7].lower() == "bearer "
        headers = {} if bearer else {"Vary": "Cookie"}
        if user is None:
            query = raw_query_string(request.scope).decode("latin-1")
            refused = redirect(login_location(request.scope["path"], query))
            refused.headers.update(headers)
            raise _Refused(refused)
        if not has_role(user.role, level):
            forbidden = Page(ERROR_TEMPLATE, dict(FORBIDDEN_PAGE), 403)
            raise _Refused(render(state.pages, forbidden, user, headers))
        return Visit(user, headers)

    chosen: Callable[..., Coroutine[Any, Any, Visit]] = public if level == "public" else guard
    chosen._figway_auth = level  # type: ignore[attr-defined]
    return chosen


Public = Annotated[Visit, Depends(page("public"))]
Reader = Annotated[Visit, Depends(page("readonly"))]
Admin = Annotated[Visit, Depends(page("admin"))]
Arg = Annotated[str | None, Query()]


def _shown(state: ModernDep, shown: Page, visit: Visit) -> Response:
    return render(state.pages, shown, visit.caller, visit.headers)


@router.get("/login")
async def login(
    visit: Public,
    state: ModernDep,
    next_: Annotated[str | None, Query(alias="next")] = None,
    error: Arg = None,
    username: Arg = None,
) -> Response:
    args = {"next": next_, "error": error, "username": username}
    context = login_page_context({k: v for k, v in args.items() if v is not None})
    return _shown(state, Page("login.html", dict(context)), visit)


@router.get("/")
async def dashboard(visit: Reader, db: ConnectionDep, state: ModernDep) -> Response:
    return _shown(state, await arun(db, pages.dashboard, visit.user.id), visit)


@router.get("/artists")
async def artists(visit: Reader, db: ConnectionDep, state: ModernDep, page: Arg = None) -> Response:
    return _shown(state, await arun(db, pages.artists, page), visit)


@router.get("/artists/{artist_id:int}")
async def artist(visit: Reader, artist_id: int, db: ConnectionDep, state: ModernDep) -> Response:
    return _shown(state, await arun(db, pages.artist, artist_id), visit)


@router.get("/videos")
async def videos(
    visit: Reader,
    db: ConnectionDep,
    state: ModernDep,
    status: Arg = None,
    limit: Arg = None,
    offset: Arg = None,
) -> Response:
    return _shown(state, await arun(db, pages.videos, status, limit, offset), visit)


@router.get("/videos/{video_id:int}")
async def video(visit: Reader, video_id: int, db: ConnectionDep, state: ModernDep) -> Response:
    can_download = has_role(visit.user.role, "user")
    return _shown(state, await arun(db, pages.video, video_id, can_download), visit)


@router.get("/playlists")
async def playlists(visit: Reader, db: ConnectionDep, state: ModernDep) -> Response:
    return _shown(state, await arun(db, pages.playlists, visit.user.id), visit)


@router.get("/settings")
async def settings(visit: Admin, db: ConnectionDep, state: ModernDep) -> Response:
    return _shown(state, await arun(db, pages.settings), visit)
