"""The migration dashboard (GET /_figway/, gateway/dashboard/): who may see it (the admin
token's sign-in cookie, the app's own admins through its hook; nobody else), the CSRF
header a cookie-signed-in browser's writes need, and that what it shows is what the
gateway recorded: this process's metrics, the history's chart. The browser's side of it:
tests/browser/test_dashboard.py."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from gateway.app import create_gateway
from gateway.dashboard import figures, page, session
from gateway.dashboard.figures import migration_points, quantile
from gateway.state.migrate import upgrade
from shared.config import Settings

TOKEN = "dashboard-token-0123456789abcdef"
MANIFEST = """\
phases:
  - {number: 1, name: first, milestone: "1.0"}
  - {number: 2, name: second, milestone: "2.0"}
routes:
  - {route: "GET /ok/<int:n>", phase: 1, owner: flask, auth: public}
  - {route: "GET /boom", phase: 1, owner: flask, auth: public}
  - {route: "GET /items", phase: 2, owner: flask, auth: public}
  - {route: "POST /items", phase: 2, owner: flask, auth: public}
"""
ROUTES = ["GET /ok/<int:n>", "GET /boom", "GET /items", "POST /items"]
CSRF = {"X-Figway-Admin": "1"}


def _apps() -> tuple[Flask, FastAPI]:
    legacy, modern = Flask("dashboard-legacy", static_folder=None), FastAPI()

    @legacy.get("/ok/<int:n>")
    def ok(n: int) -> dict[str, Any]:
        return {"n": n, "side": "flask"}

    @legacy.get("/boom")
    def boom() -> tuple[str, int]:
        return "broken", 500

    @legacy.get("/items")
    def items() -> dict[str, Any]:
        return {"side": "flask"}

    @legacy.post("/items")
    def add() -> tuple[dict[str, Any], int]:
        return {"added": True}, 201

    @modern.get("/ok/{n}")
    async def ok_twin(n: int) -> dict[str, Any]:
        return {"n": n, "side": "fastapi"}

    @modern.get("/items")
    async def items_twin() -> dict[str, Any]:
        return {"side": "fastapi"}

    return legacy, modern


@pytest.fixture
def dash(tmp_path: Path) -> Iterator[TestClient]:
    """A gateway for an app of figway's test (none of the demo's), with the admin token and
    figway's state tables on SQLite."""
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade(state_url)
    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path / "var",
        database_url="mysql://root@127.0.0.1:9/none",  # the app's: never asked
        state_database_url=state_url,
        secret_key="dashboard-secret-key-0123456789abcdef",
        redis_url=None,
        admin_token=TOKEN,
    )
    manifest = tmp_path / "routes.yaml"
    manifest.write_text(MANIFEST)
    legacy, modern = _apps()
    gateway = create_gateway(settings, legacy=legacy, modern=modern, manifest=manifest)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        yield client


def sign_in(client: TestClient, token: str = TOKEN) -> Any:
    return client.post("/_figway/login", data={"token": token}, follow_redirects=False)


def route_row(html: str, route: str) -> str:
    found = re.search(rf'<tr data-route="{re.escape(_html(route))}".*?</tr>', html, re.S)
    assert found, f"no row for {route}"
    return found.group(0)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- who may see it ---------------------------------------------------------------------


def test_without_credentials_the_page_asks_to_sign_in_and_shows_nothing(dash):
    redirect = dash.get("/_figway", follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"] == "/_figway/"
    refused = dash.get("/_figway/")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("text/html")
    assert 'action="/_figway/login"' in refused.text
    assert all(_html(route) not in refused.text for route in ROUTES)
    assert refused.headers["x-frame-options"] == "DENY"
    figures_refused = dash.get("/_figway/figures")
    assert figures_refused.status_code == 401
    assert figures_refused.json()["code"] == "AUTH_REQUIRED"
    # The static files are the page's, nothing secret: served to anyone.
    assert dash.get("/_figway/static/dashboard.js").status_code == 200
    assert dash.get("/_figway/static/dashboard.css").status_code == 200


def test_the_token_signs_a_browser_in_with_a_cookie_that_does_not_hold_it(dash):
    signed = sign_in(dash)
    assert signed.status_code == 303 and signed.headers["location"] == "/_figway/"
    header = signed.headers["set-cookie"]
    cookie = SimpleCookie(header)[session.COOKIE]
    assert TOKEN not in header
    assert cookie["httponly"] and cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/_figway" and int(cookie["max-age"]) == session.LIFETIME_S
    assert not cookie["secure"]  # plain http here; https sets it
    shown = dash.get("/_figway/")
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"] == "no-store"
    policy = shown.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "<script>" not in shown.text and " style=" not in shown.text  # none inline
    for route in ROUTES:
        route_row(shown.text, route)
    assert 'id="actor">admin-token<' in shown.text
    assert dash.get("/_figway/status").status_code == 200  # the admin API takes it too
    # Signed out: the cookie is gone, and with it the page.
    dash.post("/_figway/logout", follow_redirects=False)
    assert session.COOKIE not in dash.cookies
    assert dash.get("/_figway/").status_code == 401


def test_a_wrong_token_is_refused_and_a_forged_or_stale_cookie_opens_nothing(dash):
    for wrong in (TOKEN + "x", TOKEN[:-1], "", "Bearer " + TOKEN):
        refused = sign_in(dash, wrong)
        assert refused.status_code == 401, wrong
        assert "That is not the admin token." in refused.text
        assert "set-cookie" not in refused.headers
    good = session.sign(TOKEN)
    expiry, _, signature = good.partition(".")
    forged = [
        f"{int(expiry) + 3600}.{signature}",  # a longer life under the same signature
        f"{expiry}.{'0' * len(signature)}",
        session.sign("another-token-0123456789abcdef"),
        session.sign(TOKEN, now=time.time() - session.LIFETIME_S - 1),  # expired
        TOKEN,
        "",
    ]
    for value in forged:
        dash.cookies.set(session.COOKIE, value, path="/_figway")
        assert dash.get("/_figway/status").status_code == 401, value
        assert dash.get("/_figway/").status_code == 401, value
    dash.cookies.set(session.COOKIE, good, path="/_figway")
    assert dash.get("/_figway/status").status_code == 200


def test_sign_ins_are_limited_per_caller(dash):
    """Ten attempts a minute from one caller, a right token included; another caller
    keeps its own budget."""
    for n in range(10):
        assert sign_in(dash, f"guess-{n}").status_code == 401
    refused = sign_in(dash)  # the right token, past the budget: not even read
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Too many sign-in attempts: try again in" in refused.text
    assert 'action="/_figway/login"' in refused.text and "set-cookie" not in refused.headers
    elsewhere = TestClient(dash.app, base_url="http://127.0.0.1", client=("10.9.8.7", 4000))
    assert sign_in(elsewhere).status_code == 303


def test_writes_by_cookie_need_the_dashboards_header(dash, tmp_path):
    sign_in(dash)
    before = (tmp_path / "routes.yaml").read_bytes()
    flip = {"route": "GET /items", "to": "fastapi", "force": True}
    for path, body in [
        ("/_figway/flip", flip),
        ("/_figway/rollback", {"all": True}),
        ("/_figway/canary", {"route": "GET /items", "weight": 10}),
        ("/_figway/shadow", {"route": "GET /items", "sample": 10}),
        ("/_figway/rollout", {"phase": 2, "force": True}),
    ]:
        refused = dash.post(path, json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert "x-figway-admin" in refused.json()["error"]
    assert (tmp_path / "routes.yaml").read_bytes() == before
    assert dash.get("/items").headers["x-served-by"] == "flask"
    done = dash.post("/_figway/flip", json=flip, headers=CSRF)
    assert done.status_code == 200, done.text
    assert dash.get("/items").headers["x-served-by"] == "fastapi"
    # The bearer token (scripts, the CLI's callers) needs no header: no browser sends it.
    dash.cookies.clear()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    back = dash.post("/_figway/rollback", json={"route": "GET /items"}, headers=bearer)
    assert back.status_code == 200, back.text


def test_the_demos_admin_sees_it_by_the_apps_session_cookie(gw, login_gw):
    assert gw.get("/_figway/").status_code == 401
    login_gw("manager")
    refused = gw.get("/_figway/")
    assert refused.status_code == 403 and "GET /api/version" not in refused.text
    assert "Not an admin" in refused.text
    gw.cookies.clear()
    admin = login_gw("admin")
    shown = gw.get("/_figway/")
    assert shown.status_code == 200, shown.text[:500]
    assert f'id="actor">{admin.username}<' in shown.text
    route_row(shown.text, "GET /api/version")
    # The app's session cookie is no figway cookie: its writes are the app's same-site
    # rule's (an Origin of another site refused), no header asked.
    body = {"route": "GET /api/version", "weight": None}
    assert gw.post("/_figway/canary", json=body).status_code == 200
    crossed = gw.post("/_figway/canary", json=body, headers={"Origin": "https://evil.example"})
    assert crossed.status_code == 403


# --- what it shows ------------------------------------------------------------------------


def scraped(client: TestClient) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (route, side): requests, 5xx and the latency buckets, read from the
    /_figway/metrics text as a Prometheus server would."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    text = client.get("/_figway/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("owner") not in ("flask", "fastapi"):
                continue
            into = found.setdefault(
                (s.labels["route"], s.labels["owner"]), {"requests": 0, "errors": 0, "buckets": []}
            )
            if s.name == "figway_requests_total":
                into["requests"] += int(s.value)
            elif s.name == "figway_request_errors_total":
                into["errors"] += int(s.value)
            elif s.name == "figway_request_duration_seconds_bucket":
                into["buckets"].append((float(s.labels["le"]), s.value))
    return found


def test_the_figures_shown_are_this_process_metrics(dash):
    sign_in(dash)
    for n in range(7):
        assert dash.get(f"/ok/{n}").status_code == 200
    for _ in range(3):
        assert dash.get("/boom").status_code == 500
    dash.post(
        "/_figway/flip",
        json={"route": "GET /ok/<int:n>", "to": "fastapi", "force": True},
        headers=CSRF,
    )
    for n in range(4):
        assert dash.get(f"/ok/{n}").headers["x-served-by"] == "fastapi"
    metrics = scraped(dash)
    assert metrics[("GET /ok/<int:n>", "flask")]["requests"] == 7
    assert metrics[("GET /ok/<int:n>", "fastapi")]["requests"] == 4
    assert metrics[("GET /boom", "flask")]["errors"] == 3
    shown = dash.get("/_figway/figures").json()
    html = dash.get("/_figway/").text
    assert "this process (pid" in html
    for (route, side), want in metrics.items():
        if route not in ROUTES:
            continue
        got = shown["routes"][route][side]
        buckets = sorted(want["buckets"])
        assert got["requests"] == want["requests"] and got["errors"] == want["errors"]
        p50, p99 = quantile(0.5, buckets), quantile(0.99, buckets)
        assert p50 is not None and p99 is not None
        assert got["p50_ms"] == pytest.approx(1000 * p50)
        assert got["p99_ms"] == pytest.approx(1000 * p99)
        text = got["text"]
        assert text.startswith(f"{want['requests']} req")
        assert (f"{want['errors']} err" in text) == bool(want["errors"])
        assert f'data-fig="{side}">{text}</td>' in route_row(html, route)
    assert shown["routes"].get("GET /items") is None
    assert f'data-fig="flask">{figures.DASH}</td>' in route_row(html, "GET /items")


def test_quantiles_interpolate_within_the_prometheus_buckets():
    inf = float("inf")
    ten_in_second = [(0.001, 0.0), (0.0025, 10.0), (0.005, 10.0), (inf, 10.0)]
    # The 5th of 10 observations, halfway through the (1 ms, 2.5 ms] bucket.
    assert quantile(0.5, ten_in_second) == pytest.approx(0.00175)
    assert quantile(0.99, ten_in_second) == pytest.approx(0.001 + 0.0015 * 0.99)
    first = [(0.001, 4.0), (0.0025, 4.0), (inf, 4.0)]
    assert quantile(0.5, first) == pytest.approx(0.0005)  # from 0 in the first bucket
    beyond = [(0.001, 1.0), (10.0, 1.0), (inf, 100.0)]
    assert quantile(0.99, beyond) == 10.0  # in +Inf: the highest finite bound
    assert quantile(0.5, [(0.001, 0.0), (inf, 0.0)]) is None
    assert quantile(0.5, []) is None


def _row(at: str, route: str, frm: str, to: str, action: str = "flip") -> dict[str, Any]:
    return {"at": at, "route": route, "from": frm, "to": to, "action": action, "actor": "a"}


def test_the_chart_replays_the_history_from_the_owners_before_it():
    # The file as it is now: the history's flips are in it already.
    file_owners = {"A": "fastapi", "B": "fastapi", "C": "flask", "D": "fastapi"}
    newest_first = [
        _row("2026-01-03T00:00:00Z", "A", "flask", "fastapi"),
        _row("2026-01-02T00:00:00Z", "C", "fastapi", "flask", "rollback"),
        _row("2026-01-02T00:00:00Z", "B", "flask", "fastapi", "rollout"),
        _row("2026-01-01T00:00:00Z", "C", "flask", "fastapi"),
        _row("2026-01-01T00:00:00Z", "gone", "flask", "fastapi"),  # no longer in the file
        _row("2025-12-31T00:00:00Z", "D", "fastapi", "fastapi", "canary"),
    ]
    points = migration_points(file_owners, newest_first)
    # Before: A, B and C as their first change found them (flask), D as the file says.
    assert [(p.at.isoformat()[:10], p.percent) for p in points] == [
        ("2025-12-31", 25.0),
        ("2025-12-31", 25.0),
        ("2026-01-01", 50.0),
        ("2026-01-02", 50.0),  # B in, C out: one moment, one point
        ("2026-01-03", 75.0),  # the file's state now
    ]
    assert migration_points(file_owners, []) == []


def test_the_svg_chart_points_are_the_historys(dash):
    sign_in(dash)

    def change(path: str, body: dict[str, Any]) -> None:
        done = dash.post(path, json={**body, "force": True} if "to" in body else body, headers=CSRF)
        assert done.status_code == 200, done.text

    change("/_figway/flip", {"route": "GET /items", "to": "fastapi"})  # 25%
    time.sleep(1.05)  # the history's times are to the second
    change("/_figway/flip", {"route": "GET /ok/<int:n>", "to": "fastapi"})  # 50%
    change("/_figway/rollback", {"route": "GET /items"})  # 25%, the same second
    history = dash.get("/_figway/history").json()["history"]
    assert len(history) == 3
    first, second, third = (h["at"] for h in reversed(history))
    assert first != second
    html = dash.get("/_figway/").text
    circles = re.findall(
        r'<circle class="point"[^>]*data-at="([^"]+)" data-percent="([^"]+)"', html
    )
    # Before the first change: all on flask (the file says GET /items went back since).
    expected = [(first, "0.0"), (first, "25.0"), (second, "50.0"), (third, "25.0")]
    if second == third:  # the flip and the rollback in one second: one moment
        expected[2:] = [(second, "25.0")]
    assert circles == expected
    # The same, as the module computes them from the file and the history's rows.
    file_owners = {
        "GET /ok/<int:n>": "fastapi",
        "GET /boom": "flask",
        "GET /items": "flask",
        "POST /items": "flask",
    }
    points = migration_points(file_owners, history)
    assert [(p.at.strftime("%Y-%m-%dT%H:%M:%SZ"), str(p.percent)) for p in points] == circles
    # Every change in the history table, the newest first.
    shown = re.findall(r'<tr data-change="(\d+)"', html)
    assert shown == [str(h["id"]) for h in history]


def test_auto_changes_and_gates_are_shown_when_present(dash):
    """Another part of figway adds automatic rollbacks (actor `auto`) and a `gates` key to
    the status; the page shows them when there, and does without them (every other test)."""
    import asyncio

    gateway = dash.app
    rows = [
        {
            "id": 2,
            "at": "2026-01-02T00:00:00Z",
            "actor": "auto",
            "source": "gate",
            "action": "rollback",
            "route": "GET /items",
            "phase": 2,
            "from": "fastapi",
            "to": "flask",
            "reason": "p99 over budget",
        },
        {
            "id": 1,
            "at": "2026-01-01T00:00:00Z",
            "actor": "ops",
            "source": "cli",
            "action": "flip",
            "route": "GET /items",
            "phase": 2,
            "from": "flask",
            "to": "fastapi",
            "reason": None,
        },
    ]
    gates = [
        {
            "route": "GET /items",
            "watching": True,
            "tripped": True,
            "fastapi": {"requests": 50, "errors": 9, "p99_ms": 812.0},
            "flask": {"requests": 40, "errors": 0, "p99_ms": 12.5},
        },
    ]

    async def status(_who: str) -> dict[str, Any]:
        return {
            "valid": True,
            "problems": [],
            "gates": gates,
            "live": {"following": False, "version": None, "problems": [], "drift": []},
        }

    async def history(limit: int) -> list[dict[str, Any]]:
        return rows[:limit]

    async def shadow() -> list[dict[str, Any]]:
        return []

    context = asyncio.run(page._context(gateway, "ops", status, history, shadow))
    html = page.templates().get_template("dashboard.html").render(**context, signed_in=False)
    auto = re.search(r'<tr data-change="2" class="auto">.*?</tr>', html, re.S)
    assert auto and '<span class="auto-badge">auto</span>' in auto.group(0)
    assert '<tr data-change="1" class="">' in html
    gate = re.search(r'<tr class="tripped" data-gate="GET /items">.*?</tr>', html, re.S)
    assert gate and "50 req · 9 err · p99 812.0 ms" in gate.group(0) and "TRIPPED" in gate.group(0)
    assert figures.gate_rows(None) == [] and figures.gate_rows({"GET /x": {"tripped": False}}) == [
        {"route": "GET /x", "tripped": False}
    ]


def test_without_figways_tables_the_page_shows_the_routes_and_says_what_to_run(tmp_path):
    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path / "var",
        database_url="mysql://root@127.0.0.1:9/none",
        state_database_url=f"sqlite:///{tmp_path / 'never-upgraded.db'}",
        secret_key="dashboard-secret-key-0123456789abcdef",
        redis_url=None,
        admin_token=TOKEN,
    )
    manifest = tmp_path / "routes.yaml"
    manifest.write_text(MANIFEST)
    legacy, modern = _apps()
    gateway = create_gateway(settings, legacy=legacy, modern=modern, manifest=manifest)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        sign_in(client)
        shown = client.get("/_figway/")
        assert shown.status_code == 200, shown.text
        for route in ROUTES:
            route_row(shown.text, route)
        assert shown.text.count("figway db upgrade") >= 2  # the history's and the shadow's
        assert client.get("/_figway/figures").json()["shadow_problem"]
