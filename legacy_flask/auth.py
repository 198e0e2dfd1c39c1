"""Who is calling (session cookie or bearer token) and the per-route auth levels."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, redirect, render_template, request, session

from legacy_flask.db import db
from legacy_flask.extensions import legacy
from shared.auth.roles import AuthLevel, has_role
from shared.errors import AuthRequired, Forbidden
from shared.services import auth as auth_service
from shared.services.auth import Caller
from shared.web.pages import ERROR_TEMPLATE, FORBIDDEN_PAGE, login_location

F = TypeVar("F", bound=Callable[..., Any])
SESSION_TOKEN_KEY = "sid"  # noqa: S105 - a cookie key name, not a secret


def current_user() -> Caller | None:
    """Who is calling, once per request: the statements the twins await (shared.services.auth)."""
    if "user" not in g:
        g.user = _resolve_caller()
    user: Caller | None = g.user
    return user


def _resolve_caller() -> Caller | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return auth_service.caller_for_bearer(db(), legacy().settings, header[7:].strip())
    token = session.get(SESSION_TOKEN_KEY)
    if not isinstance(token, str):
        return None
    caller = auth_service.caller_for_session_token(db(), token)
    db().commit()  # keeps the throttled last_seen_at
    return caller


def declare_auth(view: Callable[..., Any], level: AuthLevel) -> None:
    """Record a view's auth level, read by `figway routes --json` and the manifest checks."""
    view._figway_auth = level  # type: ignore[attr-defined]


def require(level: AuthLevel) -> Callable[[F], F]:
    """API routes: 401 without a user, 403 below the level, both in the legacy shape."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if level != "public":
                user = current_user()
                if user is None:
                    raise AuthRequired()
                if not has_role(user.role, level):
                    raise Forbidden()
            return view(*args, **kwargs)

        declare_auth(wrapper, level)
        return cast(F, wrapper)

    return decorate


def page(level: AuthLevel) -> Callable[[F], F]:
    """HTML pages: 302 to /login?next=<path> without a user, a 403 page below the level."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if level != "public":
                user = current_user()
                if user is None:
                    query = request.query_string.decode("latin-1")
                    return redirect(login_location(request.path, query))
                if not has_role(user.role, level):
                    return render_template(ERROR_TEMPLATE, **FORBIDDEN_PAGE), 403
            return view(*args, **kwargs)

        declare_auth(wrapper, level)
        return cast(F, wrapper)

    return decorate
