"""Requests read exactly as the Flask side reads them: bodies with the same parser and
models (a bad body gets the same legacy 400 on both sides), query strings and forms with
Flask's rules."""

from __future__ import annotations

import re
from typing import Any, TypeVar
from urllib.parse import parse_qsl

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


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def legacy_args(request: Request) -> dict[str, str]:
    """The query string as Flask's `request.args.get` sees it.

    Starlette's query_params differ twice: the last of a repeated key wins there (Flask:
    the first), and bytes that are no UTF-8 become U+FFFD (Flask keeps them as "%FF").
    """
    raw = request.scope.get("query_string", b"").decode("utf-8", "surrogateescape")
    args: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True, errors="surrogateescape"):
        args.setdefault(_requote(key), _requote(value))
    return args


def _requote(text: str) -> str:
    return _ESCAPED_BYTE.sub(lambda m: f"%{ord(m[0]) - 0xDC00:02X}", text)
