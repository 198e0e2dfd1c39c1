"""Request bodies read exactly as the Flask side reads them (same parser, same models), so
a bad body gets the same legacy 400 on both sides."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel

from shared.validation import parse_body, parse_json

M = TypeVar("M", bound=BaseModel)


async def json_data(request: Request) -> Any:
    return parse_json(await request.body())


async def body(request: Request, model: type[M]) -> M:
    return parse_body(model, await json_data(request))
