"""Query strings read as Flask reads them, so that handlers can declare them.

`FlaskQueryString` rewrites the query string once, before routing, into the one that
Starlette parses into exactly Flask's `request.args`: Starlette differs twice (the last of
a repeated key wins there, Flask's the first; bytes that are no UTF-8 become U+FFFD,
Flask keeps them as "%FF"). The markers below then parse each declared value with the
legacy rules, placed after the `Query(...)` that declares its bounds:

    limit: Annotated[int, Query(ge=1, le=VIDEOS_LIMIT_MAX), LEGACY_INT] = 50

and shared.web.errors words a refusal from those declared bounds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from pydantic import BeforeValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, PydanticUseDefault, core_schema
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.web.errors import NOT_A_BOOLEAN, NOT_AN_INTEGER, NOT_ONE_OF

_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


# Where the query string as the client sent it stays (a page's login redirect names it).
RAW_QUERY_STRING = "figway.raw_query_string"


class FlaskQueryString:
    """Pure ASGI: the query string as Flask's `request.args` reads it, each key once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            raw = scope["query_string"]
            scope = {**scope, "query_string": flask_query_string(raw), RAW_QUERY_STRING: raw}
        await self.app(scope, receive, send)


def raw_query_string(scope: Scope) -> bytes:
    """The query string as the client sent it, before FlaskQueryString rewrote it."""
    raw: bytes = scope.get(RAW_QUERY_STRING, scope.get("query_string", b""))
    return raw


def flask_query_string(raw: bytes) -> bytes:
    args: dict[str, str] = {}
    text = raw.decode("utf-8", "surrogateescape")
    for key, value in parse_qsl(text, keep_blank_values=True, errors="surrogateescape"):
        args.setdefault(_requote(key), _requote(value))
    return urlencode(args, quote_via=quote).encode("ascii")


def _requote(text: str) -> str:
    return _ESCAPED_BYTE.sub(lambda m: f"%{ord(m[0]) - 0xDC00:02X}", text)


def _blank_is_absent(value: Any) -> Any:
    if value == "":
        raise PydanticUseDefault()
    return value


def _legacy_int(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value == "":
        raise PydanticUseDefault()  # shared.pagination.int_arg: a blank value is the default
    try:
        return int(
            value
        )  # " 5", "+5", "1_000" and Arabic-Indic digits are numbers to the legacy side too
    except ValueError:
        raise PydanticCustomError(NOT_AN_INTEGER, "not an integer") from None


def _ascii_digits(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if value.isascii() and value.isdigit():
            return int(value)  # past int()'s digits limit: a ValueError, as the legacy side's
    except ValueError:
        pass
    raise PydanticCustomError(NOT_AN_INTEGER, "not an integer")


def _legacy_bool(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    word = value.strip().lower()
    if word == "":
        raise PydanticUseDefault()
    if word in ("true", "1"):
        return True
    if word in ("false", "0"):
        return False
    raise PydanticCustomError(NOT_A_BOOLEAN, "not a boolean")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# shared.pagination.int_arg: `int()`, a blank value the default.
LEGACY_INT = BeforeValidator(_legacy_int)
# ASCII digits only, a blank value refused (shared.services.system.log_line_count).
ASCII_DIGITS = BeforeValidator(_ascii_digits)
# shared.services.artists.bool_arg: true/false/1/0 in any case, a blank value absent.
LEGACY_BOOL = BeforeValidator(_legacy_bool)
# Trimmed before its length or choices are checked, as the legacy text arguments are.
STRIPPED = BeforeValidator(_strip)
LOWERED = BeforeValidator(_lower)
BLANK_IS_ABSENT = BeforeValidator(_blank_is_absent)


@dataclass(frozen=True)
class OneOf:
    """A text argument limited to `choices`, documented as their enum."""

    choices: Sequence[str]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, _schema: CoreSchema, _handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "enum": list(self.choices)}

    def _check(self, value: Any) -> Any:
        if value is not None and value not in self.choices:
            raise PydanticCustomError(NOT_ONE_OF, "not one of {choices}", {"choices": self.choices})
        return value
