"""Bodies read exactly as the Flask side reads them: the same parser and models, so that
a bad body gets the same legacy 400 on both sides (query strings: fastapi_app.query)."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel

from shared.errors import TooLarge
from shared.validation import parse_body, parse_json, require_json_type

M = TypeVar("M", bound=BaseModel)


async def json_data(request: Request) -> Any:
    require_json_type(request.headers.get("content-type"))
    return parse_json(await read_body(request))


async def read_body(request: Request) -> bytes:
    """The body, refused with the legacy 413 past Flask's MAX_CONTENT_LENGTH: at once when
    Content-Length says so, else as soon as the bytes read pass it (nothing more is read).
    Like Flask, only a route that reads its body can answer 413."""
    check_length(request)
    limit = _limit(request)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def check_length(request: Request) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _limit(request):
        raise TooLarge()


def _limit(request: Request) -> int:
    limit: int = request.app.state.figway.settings.max_request_bytes
    return limit


async def body(request: Request, model: type[M]) -> M:
    return parse_body(model, await json_data(request))
