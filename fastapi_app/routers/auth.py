"""Login, logout, session check, the current user and bearer tokens: the twins of
legacy_flask/blueprints/auth.py.

The session cookie is Flask's own format (shared.auth.session_cookie), backed by the same
user_sessions rows: a login made here holds on the Flask side and the reverse, and a
logout on either side revokes the row both sides check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from fastapi_app.deps import (
    SESSION_TOKEN_KEY,
    ConnectionDep,
    ModernDep,
    OptionalUser,
    require,
)
from fastapi_app.docs import answers, json_body
from fastapi_app.http import check_length, json_data
from fastapi_app.pages import redirect
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.common import SuccessOut
from fastapi_app.schemas.users import CheckOut, LoginOut, MeOut, TokenOut
from fastapi_app.state import Modern
from shared.auth.tokens import issue_token
from shared.config import Settings
from shared.db.engine import end_connection
from shared.db.plan import arun
from shared.errors import AppError
from shared.serializers import user_json
from shared.services import auth as auth_service
from shared.services.auth import Caller, login_page_url, safe_next
from shared.services.users import LoginBody, me_json
from shared.validation import parse_body

router = APIRouter(tags=["auth"], route_class=JSONRoute)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@router.post(
    "/auth/login",
    dependencies=[Depends(require("public"))],
    response_model=None,
    responses={
        **answers(LoginOut, 400, 423, 429),
        302: {"description": "A form login: to the `next` path (same site only)"},
        303: {"description": "A failed form login: back to the login page with the error"},
    },
    openapi_extra=json_body(LoginBody),
)
async def login(
    request: Request,
    state: ModernDep,
    query_next: Annotated[
        str | None, Query(alias="next", description="A form login's redirect, if not a field")
    ] = None,
) -> Response:
    form = _mimetype(request) in FORM_TYPES
    data: Any
    if form:
        check_length(request)
        fields = await request.form()
        # Flask's request.form.to_dict(): the first value of each text field (uploaded
        # files are no form values).
        data = {}
        for key, value in fields.multi_items():
            if isinstance(value, str):
                data.setdefault(key, value)
        if "next" not in data and query_next:
            data["next"] = query_next
    else:
        data = await json_data(request)
    try:
        creds = parse_body(LoginBody, data)
    except AppError as err:
        return _login_failed(err, form, data)
    async with _connection(state) as db:
        user, error = await _attempt_login(db, state.settings, creds, _client(request))
        if error is not None or user is None:
            await db.commit()  # the failure counts toward the lockout, on both sides alike
            assert error is not None
            return _login_failed(error, form, data)
        token = await arun(
            db,
            auth_service.new_session,
            state.settings,
            user.id,
            ip_address=_client(request),
            user_agent=request.headers.get("user-agent"),
        )
        await db.commit()
    response: Response = (
        redirect(safe_next(creds.next))
        if form
        else JSONResponse({"success": True, "user": user_json(user)})
    )
    # What Flask writes after session.clear(); permanent = True; session["sid"] = token.
    cookie = {"_permanent": True, SESSION_TOKEN_KEY: token}
    response.headers.append("set-cookie", state.cookies.set_cookie(cookie))
    return response


@asynccontextmanager
async def _connection(state: Modern) -> AsyncIterator[AsyncConnection]:
    """A login's connection, checked out where the legacy side's session first needs one:
    after the body is read and validated (a malformed login is a 400 even with the
    database away, and no connection waits on a slow upload). Closing it rolls back what
    was not committed."""
    connection = await state.engine.connect()
    try:
        yield connection
    finally:
        await end_connection(connection)


def _mimetype(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _attempt_login(
    db: AsyncConnection, settings: Settings, creds: LoginBody, client: str | None
) -> tuple[Caller | None, AppError | None]:
    """shared.services.auth.attempt_login's steps: its two plans awaited on the connection,
    and scrypt (~100 ms of CPU, no IO) between them in a thread: on the event loop it would
    stall every request this process serves."""
    check = await arun(db, auth_service.start_login, settings, creds.username, client)
    if isinstance(check, AppError):
        return None, check
    matched = await anyio.to_thread.run_sync(auth_service.password_matches, check, creds.password)
    return await arun(db, auth_service.finish_login, settings, check, matched, db.dialect.name)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _login_failed(err: AppError, form: bool, data: Any) -> Response:
    if not form:
        raise err
    # Post/Redirect/Get, as on the Flask side: a refresh shows the form, never re-posts it.
    return redirect(login_page_url(data.get("next"), err, data.get("username")), 303)


@router.post("/auth/logout", response_model=None, responses=answers(SuccessOut))
async def logout(
    request: Request,
    _user: Annotated[Caller | None, Depends(require("user"))],
    db: ConnectionDep,
    state: ModernDep,
) -> Response:
    token = state.cookies.loads(request.cookies.get(state.cookies.name)).get(SESSION_TOKEN_KEY)
    if isinstance(token, str):
        await db.execute(auth_service.REVOKE_SESSION, auth_service.revoke_params(token))
        await db.commit()
    response = JSONResponse({"success": True})
    # Flask clears the session, so it always sends the expired cookie, even to a caller
    # that came with a bearer token and no cookie at all.
    response.headers.append("set-cookie", state.cookies.clear_cookie())
    return response


@router.get(
    "/auth/check",
    dependencies=[Depends(require("public"))],
    response_model=None,
    responses=answers(CheckOut),
)
async def check(user: OptionalUser) -> dict[str, Any]:
    return {
        "authenticated": user is not None,
        "user": user_json(user) if user is not None else None,
    }


@router.get("/api/auth/me", response_model=None, responses=answers(MeOut))
async def me(user: Annotated[Caller | None, Depends(require("readonly"))]) -> dict[str, Any]:
    assert user is not None  # require() guarantees it
    return me_json(user)


@router.post(
    "/api/auth/token",
    dependencies=[Depends(require("public"))],
    response_model=None,
    responses=answers(TokenOut, 400, 423, 429),
    openapi_extra=json_body(LoginBody),
)
async def token(request: Request, state: ModernDep) -> dict[str, Any]:
    settings = state.settings
    creds = parse_body(LoginBody, await json_data(request))
    async with _connection(state) as db:
        user, error = await _attempt_login(db, settings, creds, _client(request))
        await db.commit()  # the failure counts toward the lockout, on both sides alike
    if error is not None or user is None:
        assert error is not None
        raise error
    return issue_token(settings, user.id, user.role)
