"""Dispatch through the gateway: X-Served-By, live flips, sessions across sides, admin API."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import PASSWORD
from tests.gateway.conftest import flip
from tests.polling import wait_for


def served_by(response) -> str:
    return str(response.headers["x-served-by"])


def test_every_route_starts_on_flask(gw):
    for path in ("/api/version", "/api/health", "/auth/check", "/nowhere", "/static/css/app.css"):
        assert served_by(gw.get(path)) == "flask", path


def test_flip_moves_a_route_within_a_second_and_the_body_stays(gateway, gw):
    before = gw.get("/api/version")
    assert served_by(before) == "flask"
    assert flip(gateway, "GET /api/version", "fastapi")
    flipped = time.monotonic()
    wait_for(lambda: served_by(gw.get("/api/version")) == "fastapi", timeout=1.0)
    assert time.monotonic() - flipped < 1.0
    after = gw.get("/api/version")
    assert after.status_code == before.status_code == 200
    assert after.json() == before.json()
    assert after.headers["content-type"] == before.headers["content-type"]
    flip(gateway, "GET /api/version", "flask")
    wait_for(lambda: served_by(gw.get("/api/version")) == "flask", timeout=1.0)


def test_unflipped_routes_stay_on_flask(gateway, gw):
    flip(gateway, "GET /api/health", "fastapi")
    wait_for(lambda: served_by(gw.get("/api/health")) == "fastapi")
    assert served_by(gw.get("/api/version")) == "flask"
    assert gw.get("/api/health").json()["status"] == "healthy"


def test_login_on_flask_holds_on_fastapi_and_logout_on_flask_is_honoured(gateway, gw, make_user):
    user = make_user("user")
    login = gw.post("/auth/login", json={"username": user.username, "password": PASSWORD})
    assert served_by(login) == "flask" and login.status_code == 200
    flip(gateway, "GET /auth/check", "fastapi")
    wait_for(lambda: served_by(gw.get("/auth/check")) == "fastapi")
    check = gw.get("/auth/check").json()
    assert check["authenticated"] is True and check["user"]["id"] == user.id
    assert gw.post("/auth/logout").status_code == 200
    assert gw.get("/auth/check").json() == {"authenticated": False, "user": None}


OTHER = {"flask": "fastapi", "fastapi": "flask"}


def own(gateway, owners: dict[str, str]) -> None:
    """Give each route its owner and wait until the gateway's table says so."""
    for route, owner in owners.items():
        flip(gateway, route, owner)

    def following() -> bool:
        return all(
            gateway.table.decide(*route.split(" ", 1)).owner == owner
            for route, owner in owners.items()
        )

    wait_for(following)


@pytest.mark.parametrize("login_side", ["flask", "fastapi"])
@pytest.mark.parametrize("logout_side", ["flask", "fastapi"])
def test_one_session_across_both_sides(gateway, gw, make_user, login_side, logout_side):
    """Log in on one side, be logged in on both; log out on either, be rejected on both."""
    user = make_user("user")
    own(
        gateway,
        {
            "POST /auth/login": login_side,
            "POST /auth/logout": logout_side,
            "GET /auth/check": login_side,
            "GET /api/auth/me": OTHER[login_side],
        },
    )
    login = gw.post("/auth/login", json={"username": user.username, "password": PASSWORD})
    assert login.status_code == 200 and served_by(login) == login_side
    check, me = gw.get("/auth/check"), gw.get("/api/auth/me")
    assert (served_by(check), served_by(me)) == (login_side, OTHER[login_side])
    assert check.json()["user"]["id"] == me.json()["id"] == user.id
    cookie = gw.cookies.get("session")
    logout = gw.post("/auth/logout")
    assert logout.status_code == 200 and served_by(logout) == logout_side
    assert gw.get("/auth/check").json() == {"authenticated": False, "user": None}
    assert gw.get("/api/auth/me").status_code == 401
    # The old cookie, replayed: its session row is revoked, and both sides check the row.
    replay = {"Cookie": f"session={cookie}"}
    gw.cookies.clear()
    assert gw.get("/auth/check", headers=replay).json()["authenticated"] is False
    assert gw.get("/api/auth/me", headers=replay).status_code == 401


def test_the_lockout_counts_failures_from_both_sides(gateway, gw, make_user):
    user = make_user("user")
    own(gateway, {"POST /auth/login": "fastapi", "POST /api/auth/token": "flask"})
    wrong = {"username": user.username, "password": "wrong-password"}
    for _ in range(2):
        assert served_by(attempt := gw.post("/auth/login", json=wrong)) == "fastapi"
        assert attempt.status_code == 401
    for _ in range(2):
        assert served_by(attempt := gw.post("/api/auth/token", json=wrong)) == "flask"
        assert attempt.status_code == 401
    fifth = gw.post("/auth/login", json=wrong)
    assert fifth.status_code == 401  # the fifth failure locks the account
    right = {"username": user.username, "password": PASSWORD}
    for path in ("/auth/login", "/api/auth/token"):
        locked = gw.post(path, json=right)
        assert locked.status_code == 423 and locked.json()["code"] == "LOCKED", path


def test_bearer_token_from_flask_works_on_fastapi(gateway, gw, make_user):
    user = make_user("manager")
    token = gw.post("/api/auth/token", json={"username": user.username, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    flip(gateway, "GET /auth/check", "fastapi")
    wait_for(lambda: served_by(gw.get("/auth/check")) == "fastapi")
    assert gw.get("/auth/check", headers=headers).json()["user"]["id"] == user.id


def test_fastapi_only_routes_go_to_fastapi(gw):
    assert served_by(gw.get("/openapi.json")) == "fastapi"
    assert served_by(gw.get("/docs")) == "fastapi"


def test_unknown_paths_keep_flasks_404(gw):
    response = gw.get("/api/nope")
    assert served_by(response) == "flask"
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


def test_head_on_a_fastapi_route_has_headers_and_no_body(gateway, gw):
    flip(gateway, "GET /api/version", "fastapi")
    wait_for(lambda: served_by(gw.get("/api/version")) == "fastapi")
    response = gw.head("/api/version")
    assert response.status_code == 200 and response.content == b""
    assert served_by(response) == "fastapi"
    assert int(response.headers["content-length"]) == len(gw.get("/api/version").content)


def test_options_is_flasks_automatic_answer(gateway, gw):
    flip(gateway, "GET /api/version", "fastapi")
    wait_for(lambda: served_by(gw.get("/api/version")) == "fastapi")
    response = gw.options("/api/version")
    assert served_by(response) == "flask" and "GET" in response.headers["allow"]


def test_invalid_manifest_by_hand_keeps_the_last_good_table(gateway, gw, make_user):
    flip(gateway, "GET /api/version", "fastapi")
    wait_for(lambda: served_by(gw.get("/api/version")) == "fastapi")
    path = gateway.watcher.path
    path.write_text(path.read_text().replace("owner: fastapi", "owner: nobody"))
    # Written in place, as an editor may: the watcher can read the file half written first
    # (another problem, the same last good table), so wait for the problem of the whole file.
    wait_for(lambda: any("unknown owner 'nobody'" in p for p in gateway.watcher.problems))
    assert served_by(gw.get("/api/version")) == "fastapi"
    admin = make_user("admin")
    gw.post("/auth/login", json={"username": admin.username, "password": PASSWORD})
    status = gw.get("/_figway/status").json()
    assert status["valid"] is False and "nobody" in status["problems"][0]


def test_admin_api_needs_the_admin_role(gw, login_gw):
    for method, path in [
        ("get", "/_figway/status"),
        ("get", "/_figway/history"),
        ("get", "/_figway/metrics"),
        ("post", "/_figway/flip"),
    ]:
        response = getattr(gw, method)(path)
        assert response.status_code == 401 and response.json()["code"] == "AUTH_REQUIRED"
    login_gw("manager")
    response = gw.get("/_figway/status")
    assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN"


def test_admin_api_flip_rollout_rollback_history(gateway, gw, login_gw, app):
    login_gw("admin")
    # No verdict from `figway verify` yet: refused by name, and the server runs nothing.
    unverified = gw.post("/_figway/flip", json={"route": "GET /api/version", "to": "fastapi"})
    assert unverified.status_code == 409, unverified.text
    assert unverified.json()["code"] == "CONFLICT"
    assert "GET /api/version: never verified" in unverified.json()["error"]
    assert served_by(gw.get("/api/version")) == "flask"
    vouch(gateway, app, "GET /api/version")
    flipped = gw.post(
        "/_figway/flip", json={"route": "GET /api/version", "to": "fastapi", "reason": "canary"}
    )
    assert flipped.status_code == 200, flipped.text
    assert flipped.json()["changed"] == [
        {"route": "GET /api/version", "phase": 1, "from_owner": "flask", "to_owner": "fastapi"}
    ]
    # The process that wrote the change serves by it at once.
    assert served_by(gw.get("/api/version")) == "fastapi"
    # A page, never verified either: refused by name too.
    refused = gw.post("/_figway/flip", json={"route": "GET /settings", "to": "fastapi"})
    assert refused.status_code == 409 and "GET /settings: never verified" in refused.json()["error"]
    unknown = gw.post("/_figway/flip", json={"route": "GET /api/nope", "to": "fastapi"})
    assert unknown.status_code == 409
    bad = gw.post("/_figway/flip", json={"route": "GET /api/version", "to": "django"})
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_ERROR"
    assert gw.post("/_figway/rollback", json={}).status_code == 400
    back = gw.post("/_figway/rollback", json={"route": "GET /api/version", "reason": "oops"})
    assert back.json()["changed"][0]["to_owner"] == "flask"
    assert served_by(gw.get("/api/version")) == "flask"
    history = gw.get("/_figway/history").json()["history"]
    assert [(h["action"], h["to"], h["reason"]) for h in history[:2]] == [
        ("rollback", "flask", "oops"),
        ("flip", "fastapi", "canary"),
    ]
    assert history[0]["actor"].startswith("admin")
    assert len(history) == 2  # one row per change that was made, none for the refused


def test_admin_api_force_moves_a_route_without_a_verdict(gateway, gw, login_gw):
    login_gw("admin")
    body = {"route": "GET /api/health", "to": "fastapi", "force": True}
    forced = gw.post("/_figway/flip", json=body)
    assert forced.status_code == 200, forced.text
    assert served_by(gw.get("/api/health")) == "fastapi"


def vouch(gateway, app, route: str) -> None:
    """A passing verdict for `route`, as `figway verify` records one (the scenarios are
    not run here: tests/gateway/test_flip_path.py runs the real command)."""
    from parity import verdicts
    from parity.demo import sources
    from parity.demo.scenarios import scenarios_for
    from parity.runner import Outcome

    verdicts.record(
        gateway.watcher.path,
        {route: [Outcome(s, None) for s in scenarios_for({route})]},
        legacy=verdicts.legacy_views(app),
        twins=verdicts.twin_endpoints(gateway.modern.routes),
        sources=sources(),
    )


def test_status_and_metrics(gateway, gw, login_gw):
    login_gw("admin")
    gw.get("/api/version")
    status = gw.get("/_figway/status").json()
    assert status["valid"] is True
    assert [p["phase"] for p in status["phases"]] == [1, 2, 3, 4]
    assert sum(p["routes"] for p in status["phases"]) == len(status["serving"])
    metrics = gw.get("/_figway/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'figway_requests_total{owner="flask",route="GET /api/version",status="200"}' in text
    assert "figway_request_duration_seconds_bucket" in text


def test_a_gateway_for_any_flask_and_fastapi_app(settings, tmp_path):
    from fastapi import FastAPI
    from flask import Flask

    from gateway.app import create_gateway

    legacy, modern = Flask("theirs"), FastAPI()

    @legacy.get("/hello/<int:n>")
    def hello(n: int) -> dict[str, int]:
        return {"n": n, "side": 1}

    @modern.get("/hello/{n}")
    async def hello_twin(n: int) -> dict[str, int]:
        return {"n": n, "side": 2}

    manifest = tmp_path / "theirs.yaml"
    manifest.write_text(
        "phases:\n  - {number: 1, name: one, milestone: '1'}\nroutes:\n"
        "  - {route: 'GET /hello/<int:n>', phase: 1, owner: fastapi, auth: public}\n"
        "  - {route: 'GET /static/<path:filename>', phase: 1, owner: flask, auth: public}\n"
    )
    with TestClient(
        create_gateway(settings, legacy=legacy, modern=modern, manifest=manifest)
    ) as client:
        response = client.get("/hello/3")
        assert response.json() == {"n": 3, "side": 2}
        assert served_by(response) == "fastapi"


def test_raw_utf8_in_a_query_reaches_flask_as_text(gateway, make_user):
    """Raw (not percent-encoded) UTF-8 in a query: Flask must read the text, not 500."""
    import asyncio

    messages: list[dict[str, Any]] = []

    async def call() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/videos/search",
            "raw_path": b"/api/videos/search",
            "root_path": "",
            "query_string": "q=café".encode(),
            "headers": [],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }

        requests = iter([{"type": "http.request", "body": b"", "more_body": False}])

        async def receive() -> dict[str, Any]:
            return next(requests, {"type": "http.disconnect"})

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await gateway(scope, receive, send)

    asyncio.run(call())
    start = messages[0]
    assert start["status"] == 401  # reached Flask's auth check: the request was understood
    assert (b"x-served-by", b"flask") in start["headers"]
