"""Reading request bodies the legacy way: JSON (or form) into a validated model."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel

from shared.validation import parse_body, parse_json

M = TypeVar("M", bound=BaseModel)


def json_data() -> Any:
    return parse_json(request.get_data(cache=True))


def body(model: type[M]) -> M:
    return parse_body(model, json_data())
