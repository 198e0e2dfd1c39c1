"""The one place the FastAPI side turns errors into the legacy JSON shape (never `detail`)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db.engine import is_unavailable
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

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        if is_unavailable(exc):
            log.warning("database unavailable: %s", type(exc).__name__)
            return legacy_response(Unavailable("Database unavailable"))
        log.exception("unhandled error", exc_info=exc)
        return legacy_response(AppError())

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
