"""The pages' auth, as the legacy `page(level)` decorator answers it (legacy_flask/auth.py),
for every router of server-rendered pages (fastapi_app/routers/pages.py, new_pages.py).

Anonymous -> 302 to /login?next=<path?query> (the query string as the client sent it), a
role below the level -> the 403 page; both, and every page shown, carry the `Vary: Cookie`
Flask's read session adds, unless the caller came with a bearer token. The guard resolves
the caller before a handler's connection is opened (declare the Visit first): an anonymous
visitor is sent to the login form without a database checkout, database or no database.

Apart from fastapi_app/pages.py because it depends on fastapi_app.deps, which imports the
app state, which imports fastapi_app.pages for its templates.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment

from fastapi_app.deps import ModernDep, OptionalUser
from fastapi_app.pages import redirect, render
from fastapi_app.query import raw_query_string
from shared.auth.roles import AuthLevel, has_role
from shared.services.auth import Caller
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


@dataclass(frozen=True)
class Visit:
    """Who a page is shown to, the headers Flask's session adds to its answer, and the
    templates it is rendered from (the app's, loaded once: fastapi_app.state)."""

    templates: Environment
    caller: Caller | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> Caller:
        assert self.caller is not None  # the guard let the request through
        return self.caller

    def show(self, shown: Page) -> HTMLResponse:
        return render(self.templates, shown, self.caller, self.headers)


def page(level: AuthLevel) -> Callable[..., Coroutine[Any, Any, Visit]]:
    """The guard of a page of `level` (declared for the manifest checks, as `require`)."""

    async def public(state: ModernDep) -> Visit:
        return Visit(state.pages)

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
        visit = Visit(state.pages, user, headers)
        if not has_role(user.role, level):
            raise _Refused(visit.show(Page(ERROR_TEMPLATE, dict(FORBIDDEN_PAGE), 403)))
        return visit

    chosen: Callable[..., Coroutine[Any, Any, Visit]] = public if level == "public" else guard
    chosen._figway_auth = level  # type: ignore[attr-defined]
    return chosen


Public = Annotated[Visit, Depends(page("public"))]
Reader = Annotated[Visit, Depends(page("readonly"))]
Writer = Annotated[Visit, Depends(page("user"))]
Admin = Annotated[Visit, Depends(page("admin"))]
