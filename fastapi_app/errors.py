"""The one place the FastAPI side turns errors into the legacy JSON shape (never `detail`)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db.engine import is_unavailable, unavailable_reason
from shared.errors import AppError, Unavailable, ValidationFailed, error_for_status

log = logging.getLogger("figway.modern")


def legacy_response(err: AppError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers or None)


def _describe(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return ValidationFailed.default_message
    first = errors[0]
    # FastAPI prefixes where the value came from ("body", "query"); the legacy app does not.
    where = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    return f"{'.'.join(where) or 'body'}: {first.get('msg', 'invalid')}"


def register_error_handlers(app: FastAPI) -> None:
    async def app_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return legacy_response(exc)

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return legacy_response(ValidationFailed(_describe(exc)))

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        response = legacy_response(error_for_status(exc.status_code))
        if exc.headers:
            response.headers.update(exc.headers)
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

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return legacy_response(AppError())

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(SQLAlchemyError, database_error)
    app.add_exception_handler(Exception, unexpected)
