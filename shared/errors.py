"""The one error hierarchy. Each side maps it to the legacy JSON shape in one place."""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "Internal server error"

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        self.message = message or self.default_message
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code}


class BadRequest(AppError):
    status, code, default_message = 400, "BAD_REQUEST", "Bad request"


class ValidationFailed(AppError):
    status, code, default_message = 400, "VALIDATION_ERROR", "Invalid input"


class AuthRequired(AppError):
    status, code, default_message = 401, "AUTH_REQUIRED", "Authentication required"


class Forbidden(AppError):
    status, code, default_message = 403, "FORBIDDEN", "You do not have permission to do this"


class NotFound(AppError):
    status, code, default_message = 404, "NOT_FOUND", "Not found"


class MethodNotAllowed(AppError):
    status, code, default_message = 405, "METHOD_NOT_ALLOWED", "Method not allowed"


class Conflict(AppError):
    status, code, default_message = 409, "CONFLICT", "Conflict"


class TooLarge(AppError):
    status, code, default_message = 413, "TOO_LARGE", "Request too large"


class UnsupportedMediaType(AppError):
    status, code, default_message = 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"


class RangeNotSatisfiable(AppError):
    status, code, default_message = 416, "RANGE_NOT_SATISFIABLE", "Range not satisfiable"


class Locked(AppError):
    status, code, default_message = 423, "LOCKED", "Account locked"


class RateLimited(AppError):
    status, code, default_message = 429, "RATE_LIMITED", "Too many requests"


class HeadersTooLarge(AppError):
    status, code, default_message = 431, "HEADERS_TOO_LARGE", "Request header fields too large"


class Unavailable(AppError):
    status, code, default_message = 503, "UNAVAILABLE", "Service unavailable"


class Timeout(AppError):
    status, code, default_message = 504, "TIMEOUT", "The request took too long"


_BY_STATUS: dict[int, type[AppError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        AuthRequired,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        TooLarge,
        UnsupportedMediaType,
        RangeNotSatisfiable,
        Locked,
        RateLimited,
        HeadersTooLarge,
        Unavailable,
        Timeout,
    )
}


def error_for_status(status: int, message: str | None = None) -> AppError:
    """The legacy error for a bare HTTP status (framework 404s, 405s, 413s)."""
    return _BY_STATUS.get(status, AppError)(message)
