"""The one place the legacy app turns errors into the legacy JSON shape."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from shared.db.engine import is_unavailable, unavailable_reason
from shared.errors import AppError, Unavailable, error_for_status
from shared.web.pages import NOT_FOUND_PAGE, NOT_FOUND_TEMPLATE, prefers_html

log = logging.getLogger("figway.legacy")


def _respond(err: AppError) -> tuple[Response, int]:
    response = jsonify(err.body())
    response.headers.update(err.headers)
    return response, err.status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(err: AppError) -> tuple[Response, int]:
        return _respond(err)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int] | HTTPException:
        if exc.code is None or exc.code < 400:
            return exc  # routing redirects (trailing slash) stay Flask's own
        if exc.code == 404:
            return _not_found()
        err = error_for_status(exc.code, _message(exc))
        response, _ = _respond(err)
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response, exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        if is_unavailable(exc):
            log.warning("database unavailable: %s", unavailable_reason(exc))
            return _respond(Unavailable("Database unavailable"))
        log.exception("unhandled error")
        return _respond(AppError())


def _not_found() -> tuple[Response, int]:
    """werkzeug's own 404 (no route matched, no such static file; never a view's missing
    row, an AppError): the error page for a browser, the legacy JSON for anyone else."""
    if prefers_html(request.headers.get("Accept")):
        response = Response(render_template(NOT_FOUND_TEMPLATE, **NOT_FOUND_PAGE))
    else:
        response, _ = _respond(error_for_status(404, "Not found"))
    # The answer depends on Accept: a cache must not hand a browser's page to an API client.
    response.vary.add("Accept")
    return response, 404


def _message(exc: HTTPException) -> str:
    return {404: "Not found", 405: "Method not allowed", 413: "Request too large"}.get(
        exc.code or 0, exc.name
    )
