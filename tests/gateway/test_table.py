"""The routing decision follows Flask's own matching rules."""

from __future__ import annotations

import re

import pytest

from gateway import manifest as mf
from gateway.table import FASTAPI, FLASK, RouteTable
from tests.test_contract import MANIFEST


def table(**owners: str) -> RouteTable:
    manifest = mf.load(MANIFEST)
    wanted = {mf.normalize_key(k.replace("_", " ", 1)): v for k, v in owners.items()}
    entries = tuple(
        # flask unless named: the tests state every owner they rely on
        mf.Entry(e.method, e.path, e.phase, wanted.get(e.key, FLASK), e.auth, e.notes, e.line)
        for e in manifest.entries
    )
    return RouteTable(entries)


def test_every_route_matches_itself_and_is_flask_by_default():
    t = table()
    for entry in mf.load(MANIFEST).entries:
        if entry.method == mf.CHANNEL:  # a prefix, matched by the gateway before decide()
            assert (entry.path, entry.key) in t.channels
            continue
        path = re.sub(r"<int:\w+>", "7", entry.path)
        path = re.sub(r"<(?:path:)?\w+>", "x", path)
        decision = t.decide(entry.method, path)
        assert (decision.owner, decision.route) == (FLASK, entry.key)


def test_static_segment_beats_variable():
    t = RouteTable(
        tuple(
            mf.Entry(m, p, 1, o, "admin", "", 1)
            for m, p, o in [
                ("PUT", "/api/settings/bulk", FLASK),
                ("PUT", "/api/settings/<key>", FASTAPI),
            ]
        )
    )
    assert t.decide("PUT", "/api/settings/bulk").route == "PUT /api/settings/bulk"
    assert t.decide("PUT", "/api/settings/bulk").owner == FLASK
    assert t.decide("PUT", "/api/settings/theme").owner == FASTAPI


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/api/videos/12", "GET /api/videos/<int:video_id>"),
        ("GET", "/api/videos/search", "GET /api/videos/search"),
        ("POST", "/api/videos/bulk/status", "POST /api/videos/bulk/status"),
        (
            "GET",
            "/api/videos/12/thumbnail/small",
            "GET /api/videos/<int:video_id>/thumbnail/<size>",
        ),
        ("GET", "/static/css/app.css", "GET /static/<path:filename>"),
        ("HEAD", "/api/videos/12", "GET /api/videos/<int:video_id>"),
        ("GET", "/", "GET /"),
    ],
)
def test_matches_like_flask(method, path, route):
    assert table().decide(method, path).route == route


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/videos/abc"),  # int converter refuses: Flask's 404
        ("GET", "/api/videos/-1"),
        ("DELETE", "/api/health"),  # known path, wrong method: Flask's 405
        ("GET", "/api/videos/"),  # no such rule with a slash: Flask's 404
        ("OPTIONS", "/api/version"),  # Flask's automatic OPTIONS
        ("GET", "/nowhere"),
    ],
)
def test_everything_flask_would_refuse_or_redirect_goes_to_flask(method, path):
    decision = table(GET_api_version="fastapi").decide(method, path)
    assert decision.owner == FLASK and decision.route is None


def test_head_on_a_fastapi_route_is_served_as_get():
    decision = table(**{"GET_/api/version": "fastapi"}).decide("HEAD", "/api/version")
    assert decision.owner == FASTAPI and decision.method == "GET"


def test_numbers_fold_into_one_cache_entry_but_not_into_one_answer():
    t = table(**{"GET_/api/videos/<int:video_id>": "fastapi"})
    assert t.decide("GET", "/api/videos/1").owner == FASTAPI
    assert t.decide("GET", "/api/videos/999999").owner == FASTAPI
    assert t.decide("GET", "/api/videos/abc").owner == FLASK


def test_numeric_static_segments_disable_folding():
    t = RouteTable(
        (
            mf.Entry("GET", "/v/2024", 1, FASTAPI, "public", "", 1),
            mf.Entry("GET", "/v/<int:y>", 1, FLASK, "public", "", 2),
        )
    )
    assert t.decide("GET", "/v/2024").owner == FASTAPI
    assert t.decide("GET", "/v/2023").owner == FLASK
