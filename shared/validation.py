"""Request bodies validated once, with errors in the legacy 400 shape."""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.errors import BadRequest, UnsupportedMediaType, ValidationFailed

M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    """Base for request bodies: strict types (no "5" for 5), unknown keys ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", str_strip_whitespace=True)


# A surrogate code point left alone after parsing: "\ud800" unpaired (a valid pair is
# joined into one character by the parser), or raw surrogate bytes, which json.loads lets
# through ("surrogatepass"). No UTF-8 encoder takes one: a stored one breaks every read.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def require_json_type(content_type: str | None) -> None:
    """A JSON body must say so: application/json or a +json type (Flask's is_json rule).
    A form can send text/plain cross-site without a preflight; a JSON type it cannot."""
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if mimetype != "application/json" and not (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    ):
        raise UnsupportedMediaType("Content-Type must be application/json")


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise BadRequest("Request body must be JSON")
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("Malformed JSON body") from exc
    if _has_lone_surrogate(data):
        raise BadRequest("Malformed JSON body: a string holds a lone surrogate (not Unicode)")
    return data


def _has_lone_surrogate(data: Any) -> bool:
    """Whether any key or string anywhere in `data` holds one. A loop, not recursion: the
    parser accepts nesting as deep as the interpreter's recursion limit."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON: MariaDB's JSON columns refuse them (a 500 at commit).
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 overflows to inf
        raise ValueError(f"{text} is out of range")
    return value


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
