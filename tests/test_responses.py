"""The twins' JSON is encoded once, by orjson, and reads back as it did through FastAPI's
jsonable_encoder and json.dumps."""

from __future__ import annotations

import json
from decimal import Decimal

from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse

from fastapi_app import create_fastapi_app
from fastapi_app.responses import JSONRoute, ORJSONResponse
from shared.config import Settings
from shared.web.methods import flat_routes

ANSWER = {
    "title": "Sigur Rós \u2013 Svefn-g-englar ☃ 日本 \U0001f3b5",
    "floats": [0.1, 1 / 3, 1e-7, 1e22, 2.5, -0.0, 123456789.123],
    "ints": [0, -1, 2**53 + 1, 2**63 - 1],
    "nested": {"none": None, "yes": True, "empty": [], "quote": '"\\/\n\t\u2028'},
    "decimal": Decimal("12.5"),
}


def test_orjson_reads_back_as_fastapis_json():
    fast = bytes(ORJSONResponse(ANSWER).body)
    reference = bytes(JSONResponse(jsonable_encoder(ANSWER)).body)
    assert json.loads(fast) == json.loads(reference)
    assert "日本".encode() in fast  # UTF-8, never \\u escapes


def test_integers_past_64_bits_are_written_as_flask_writes_them():
    # A user may store one in their preferences; orjson alone refuses it (a 500).
    answer = {"preferences": {"big": 2**64, "small": -(2**70)}, "title": "日本"}
    fast = bytes(ORJSONResponse(answer).body)
    assert json.loads(fast) == answer


def test_every_twin_answers_through_the_orjson_route():
    settings = Settings(_env_file=None, env="test", database_url="sqlite://", secret_key="k" * 32)
    app = create_fastapi_app(settings)
    # FastAPI keeps included routers nested: each flat entry holds its route.
    routes = [getattr(entry, "route", entry) for entry in flat_routes(app.routes)]
    twins = [r for r in routes if isinstance(r, APIRoute) and r.include_in_schema]
    assert len(twins) >= 50
    for route in twins:
        assert isinstance(route, JSONRoute), route.path
