"""Request bodies validated once, with errors in the legacy 400 shape."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.errors import BadRequest, ValidationFailed

M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    """Base for request bodies: strict types (no "5" for 5), unknown keys ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", str_strip_whitespace=True)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise BadRequest("Request body must be JSON")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("Malformed JSON body") from exc


def parse_body(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise ValidationFailed("Request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """The first problem, naming the field: 'name: Field required'."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"
