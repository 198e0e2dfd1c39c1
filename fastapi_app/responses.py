"""The twins' JSON, encoded once by orjson.

A handler returns the shared serializer's dict; FastAPI would walk it through
`jsonable_encoder` (a Python-level copy of every value) and then `json.dumps` it. The route
class below sends it straight to orjson instead, which reads dicts, lists, strings and
numbers natively; anything else (a Decimal, a model) still goes through jsonable_encoder,
so the JSON is what it was, only made faster.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import orjson
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse, Response

_MARK = "figway_orjson"


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, default=jsonable_encoder)
        except orjson.JSONEncodeError:
            # orjson refuses integers past 64 bits; JSON has no such bound, and Flask writes
            # them (a user's preferences may hold one). The standard encoder writes them too.
            return super().render(jsonable_encoder(content))


class JSONRoute(APIRoute):
    """An APIRoute whose handler's dict or list answer is encoded by orjson directly."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _encoded(endpoint, kwargs.get("status_code")), **kwargs)


def _encoded(endpoint: Callable[..., Any], status_code: int | None) -> Callable[..., Any]:
    # include_router builds each route again from its endpoint: wrap only once.
    if getattr(endpoint, _MARK, False) or not inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)  # FastAPI reads the parameters through __wrapped__
    async def encoded(*args: Any, **kwargs: Any) -> Any:
        answer = await endpoint(*args, **kwargs)
        if isinstance(answer, Response) or answer is None:
            return answer
        return ORJSONResponse(answer, status_code=status_code or 200)

    setattr(encoded, _MARK, True)
    return encoded
