"""The one place an ASGI app of figway's (the demo's twins, the admin API) turns errors into
the legacy JSON shape (never `detail`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from shared.db.engine import is_unavailable, unavailable_reason
from shared.errors import AppError, Unavailable, ValidationFailed, error_for_status
from shared.web.methods import allowed_methods, flask_allow
from shared.web.pages import prefers_html

CLIENT_CLOSED_REQUEST = 499  # nginx's name and number for it; never sent to anyone
# The error types of the legacy query markers (fastapi_app.query), worded in refusal().
NOT_AN_INTEGER, NOT_A_BOOLEAN, NOT_ONE_OF = "int_parsing", "bool_parsing", "one_of"

log = logging.getLogger("figway.modern")
_BOUNDS = ("ge", "le", "min_length", "max_length")


def legacy_response(err: AppError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers or None)


def _describe(request: Request, exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return ValidationFailed.default_message
    first = errors[0]
    loc = first.get("loc", ())
    if len(loc) == 2 and loc[0] == "query":
        name = str(loc[1])
        return refusal(name, first, declared_bounds(request.scope.get("route"), name))
    # FastAPI prefixes where the value came from ("body", "path"); the legacy app does not.
    where = [str(p) for p in loc if p not in ("body", "query", "path")]
    return f"{'.'.join(where) or 'body'}: {first.get('msg', 'invalid')}"


def refusal(name: str, error: Mapping[str, Any], bounds: Mapping[str, Any]) -> str:
    """The legacy message for a query argument refused, worded as shared.pagination and
    the legacy readers word theirs, from the bounds the handler declares."""
    kind = error.get("type")
    if kind == NOT_AN_INTEGER:
        return f"{name} must be an integer"
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"{name} must be between {bounds.get('ge')} and {bounds.get('le')}"
    if kind == NOT_A_BOOLEAN:
        return f"{name} must be true, false, 1 or 0"
    if kind == NOT_ONE_OF:
        choices = list(error.get("ctx", {}).get("choices", ()))
        if len(choices) == 2:
            return f"{name} must be {choices[0]} or {choices[1]}"
        return f"{name} must be one of {', '.join(choices)}"
    if kind in ("missing", "string_too_short", "too_short", "string_too_long", "too_long"):
        if "min_length" in bounds:
            lo, hi = bounds["min_length"], bounds.get("max_length")
            return f"{name} is required, {lo} to {hi} characters"
        if "max_length" in bounds:
            return f"{name} must be at most {bounds['max_length']} characters"
        return f"{name} is required"
    return f"{name}: {error.get('msg', 'invalid')}"


def declared_bounds(route: object, name: str) -> dict[str, Any]:
    """The bounds (ge, le, min_length, max_length) `route` declares on its query `name`."""
    dependant = getattr(route, "dependant", None)
    pending = [dependant] if isinstance(dependant, Dependant) else []
    while pending:
        current = pending.pop()
        for field in current.query_params:
            if field.alias == name:
                return {
                    key: getattr(meta, key)
                    for meta in field.field_info.metadata
                    for key in _BOUNDS
                    if getattr(meta, key, None) is not None
                }
        pending.extend(current.dependencies)
    return {}


def register_error_handlers(app: FastAPI, *, not_found_page: str | None = None) -> None:
    """The legacy JSON errors. With `not_found_page` (an app with pages: the demo's twins),
    Starlette's own 404 (no route matched) is that HTML for a browser, as Flask's is."""

    async def app_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return legacy_response(exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return legacy_response(ValidationFailed(_describe(request, exc)))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404 and not_found_page is not None:
            return not_found(request.headers.get("accept"), not_found_page)
        response = legacy_response(error_for_status(exc.status_code))
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            # Every method of the path, as werkzeug names them (shared/web/methods.py).
            allowed = allowed_methods(request.app.router.routes, request.scope)
            response.headers["Allow"] = flask_allow(allowed)
        return response

    # A handler keyed by a class runs in Starlette's ExceptionMiddleware, whose response
    # ends the request; the one keyed by `Exception` runs in ServerErrorMiddleware, which
    # re-raises after sending, so the server logs a traceback and drops the connection.
    # An unreachable database is an expected 503, so it must never get that far.
    async def database_error(_request: Request, exc: Exception) -> JSONResponse:
        if not is_unavailable(exc):
            raise exc  # a wrong query is a bug: the 500 below, with its traceback
        log.warning("database unavailable: %s", unavailable_reason(exc))
        return legacy_response(Unavailable("Database unavailable"))

    # The client went away while its body was read: nobody is left to answer, and it is
    # news, not a bug (a load generator stopping mid-request did it on every run). One
    # line, and the answer nginx logs for it, which no client will see.
    async def client_gone(request: Request, _exc: Exception) -> Response:
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return legacy_response(AppError())

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(SQLAlchemyError, database_error)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(Exception, unexpected)


def not_found(accept: str | None, page: str) -> Response:
    """The generic 404 (never a handler's missing row, an AppError): `page` for a browser,
    the legacy JSON for anyone else; varying by Accept, so no cache mixes the two up."""
    headers = {"Vary": "Accept"}
    if prefers_html(accept):
        return HTMLResponse(page, status_code=404, headers=headers)
    err = error_for_status(404, "Not found")
    return JSONResponse(err.body(), status_code=err.status, headers=headers)
