"""Canaries: a route's weight sends that share of its callers to fastapi, each caller kept
on its side across requests and processes; an admin's X-Figway-Side forces a side.

The weights reach a gateway as `figway canary` sends them: written into its live state,
which it follows (tests/live_states.py `weigh`; the admin API and the CLI are tested below,
and two real processes sharing one state database)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.requests import Request
from starlette.testclient import TestClient

from gateway import manifest as mf
from gateway.app import Gateway, create_gateway
from gateway.asgi import create_figway
from gateway.canary import (
    BUCKETS,
    asked_side,
    bucket,
    check_weight,
    parse_weight,
    side_for,
)
from gateway.changes import ChangeRefused
from gateway.cli import main
from gateway.state import migrate as state
from gateway.table import FASTAPI, FLASK
from shared.auth.tokens import issue_token
from shared.config import Settings
from shared.errors import Forbidden
from tests import foreign_app
from tests.gateway.test_admin_auth import MANIFEST as FOREIGN_MANIFEST
from tests.gateway.test_admin_auth import _settings as foreign_settings
from tests.gateway.test_rate_limit import with_limits
from tests.live_states import weigh
from tests.servers import base_env, figway, free_port, serving
from tests.test_contract import legacy_manifest

ROUTE = "GET /api/version"
ADMIN_TOKEN = "canary-admin-token-0123456789abcdef"
CALLERS = [f"user:{n}" for n in range(1000)]
ROOT = Path(__file__).resolve().parents[2]
CANARY_SERVER = "tests.canary_server:factory"


# -- the bucket -----------------------------------------------------------------------


def fastapi_callers(route: str, weight: int, callers: list[str] = CALLERS) -> set[str]:
    return {c for c in callers if side_for(route, c, weight) == FASTAPI}


def test_buckets_are_in_range_and_depend_on_the_route_too():
    buckets = [bucket(ROUTE, c) for c in CALLERS]
    assert all(0 <= b < BUCKETS for b in buckets)
    assert len(set(buckets)) > 950  # spread, not a handful of values
    # Another route's 30% are other callers: one unlucky user is not in every canary.
    assert fastapi_callers(ROUTE, 30) != fastapi_callers("GET /api/health", 30)


def test_weight_0_is_all_flask_100_all_fastapi():
    assert fastapi_callers(ROUTE, 0) == set()
    assert fastapi_callers(ROUTE, 100) == set(CALLERS)


def test_raising_the_weight_only_moves_callers_to_fastapi():
    previous: set[str] = set()
    for weight in range(0, 101):
        now = fastapi_callers(ROUTE, weight)
        assert previous <= now, weight
        previous = now


@pytest.mark.parametrize("weight", [10, 30, 60])
def test_a_thousand_callers_split_near_the_weight(weight):
    share = len(fastapi_callers(ROUTE, weight)) / len(CALLERS)
    assert weight / 100 - 0.05 <= share <= weight / 100 + 0.05, share


def test_the_same_assignments_in_another_process():
    """No per-process seed (Python's own str hash has one): another interpreter, with
    another PYTHONHASHSEED, puts every caller in the same bucket."""
    script = (
        "import json, sys\n"
        "from gateway.canary import bucket\n"
        "callers = json.loads(sys.stdin.read())\n"
        f"print(json.dumps([bucket({ROUTE!r}, c) for c in callers]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(CALLERS),
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [bucket(ROUTE, c) for c in CALLERS]


def test_the_side_header_names_a_side_or_nothing():
    def asked(value: bytes) -> str | None:
        return asked_side([(b"accept", b"*/*"), (b"x-figway-side", value)])

    assert asked(b"fastapi") == FASTAPI and asked(b" Flask ") == FLASK
    assert asked(b"both") is None and asked(b"") is None
    assert asked_side([(b"accept", b"*/*")]) is None


# -- the gateway ----------------------------------------------------------------------


@pytest.fixture
def canary_settings(gw_settings: Settings) -> Settings:
    return gw_settings.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN)})


@pytest.fixture
def cgw(canary_settings: Settings) -> Iterator[tuple[Gateway, TestClient]]:
    gateway = create_figway(canary_settings)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        yield gateway, client


def bearer(settings: Settings, user_id: int, role: str = "user") -> dict[str, str]:
    token = issue_token(settings, user_id, role)["access_token"]
    return {"Authorization": f"Bearer {token}"}


def sides(client: TestClient, users: Mapping[int, dict[str, str]], path: str) -> dict[int, str]:
    """The side that served each user's request."""
    found = {}
    for user, headers in users.items():
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        found[user] = response.headers["x-served-by"]
    return found


def test_a_thousand_callers_split_stay_and_only_move_to_fastapi(cgw, canary_settings):
    gateway, client = cgw
    users = {n: bearer(canary_settings, n) for n in range(1, 1001)}
    weigh(gateway, {ROUTE: 30})
    at_30 = sides(client, users, "/api/version")
    share = Counter(at_30.values())[FASTAPI] / len(users)
    assert 0.25 <= share <= 0.35, share
    # As the caller definition says: the user of the token (gateway/callers.py).
    assert at_30 == {n: side_for(ROUTE, f"user:{n}", 30) for n in users}
    # Some callers of each side, again and again: always their side.
    for n in [*[u for u in at_30 if at_30[u] == FASTAPI][:5], *list(at_30)[:5]]:
        seen = {client.get("/api/version", headers=users[n]).headers["x-served-by"]}
        for _ in range(19):
            seen.add(client.get("/api/version", headers=users[n]).headers["x-served-by"])
        assert seen == {at_30[n]}, n
    weigh(gateway, {ROUTE: 60})
    at_60 = sides(client, users, "/api/version")
    assert not [n for n in users if at_30[n] == FASTAPI and at_60[n] == FLASK]
    share = Counter(at_60.values())[FASTAPI] / len(users)
    assert 0.55 <= share <= 0.65, share
    # Both sides answer the route alike (parity is what put the route in a canary).
    answers = [client.get("/api/version", headers=users[n]) for n in list(users)[:10]]
    assert {a.headers["x-served-by"] for a in answers} == {FLASK, FASTAPI}
    assert len({json.dumps(a.json()) for a in answers}) == 1


def test_other_routes_and_unweighted_routes_keep_their_owner(cgw, canary_settings):
    gateway, client = cgw
    weigh(gateway, {ROUTE: 100, "GET /api/health": None})
    users = {n: bearer(canary_settings, n) for n in range(1, 21)}
    assert set(sides(client, users, "/api/version").values()) == {FASTAPI}
    assert set(sides(client, users, "/api/health").values()) == {FLASK}
    weigh(gateway, {ROUTE: 0})
    assert set(sides(client, users, "/api/version").values()) == {FLASK}


def test_callers_by_address_split_too(canary_settings):
    """Without credentials a caller is its address (distinct clients of the server)."""
    gateway = create_figway(canary_settings)
    weigh(gateway, {ROUTE: 30}, follow=False)  # read when it starts
    found: Counter[str] = Counter()
    with TestClient(gateway, base_url="http://127.0.0.1") as first:
        first.get("/api/health")  # the lifespan started once, for every client below
        for n in range(400):
            address = f"10.0.{n // 250}.{n % 250}"
            client = TestClient(gateway, base_url="http://127.0.0.1", client=(address, 4000))
            side = client.get("/api/version").headers["x-served-by"]
            assert side == side_for(ROUTE, f"addr:{address}", 30)
            found[side] += 1
    assert 0.22 <= found[FASTAPI] / 400 <= 0.38, found


def test_head_is_served_on_either_side_a_canary_picks(cgw, canary_settings):
    """HEAD is GET on FastAPI whoever owns the route (its GET routes take no HEAD), and
    stays HEAD on Flask: an empty 200 on both, headed as the GET is."""
    gateway, client = cgw
    for owner in (FLASK, FASTAPI):
        weigh(gateway, {ROUTE: 50}, owner)
        assert gateway.table.owner(ROUTE) == owner
        seen = set()
        for n in range(1, 41):
            headers = bearer(canary_settings, n)
            get, head = (
                client.get(ROUTE[4:], headers=headers),
                client.head(ROUTE[4:], headers=headers),
            )
            side = side_for(ROUTE, f"user:{n}", 50)
            assert head.status_code == get.status_code == 200, (owner, side, head.text)
            assert head.content == b""
            assert head.headers["x-served-by"] == get.headers["x-served-by"] == side
            assert head.headers["content-type"] == get.headers["content-type"]
            seen.add(side)
        assert seen == {FLASK, FASTAPI}


def test_a_rate_limit_counts_alike_whichever_side_serves(canary_settings, manifest_path):
    with_limits(manifest_path, {ROUTE: "3/minute"})
    gateway = create_figway(canary_settings)
    weigh(gateway, {ROUTE: 50}, follow=False)
    users = {n: bearer(canary_settings, n) for n in range(1, 41)}
    by_side = {side_for(ROUTE, f"user:{n}", 50): n for n in users}
    assert set(by_side) == {FLASK, FASTAPI}
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        for side, n in by_side.items():
            answers = [client.get("/api/version", headers=users[n]) for _ in range(5)]
            assert [a.status_code for a in answers] == [200, 200, 200, 429, 429], side
            assert [a.headers["x-served-by"] for a in answers] == [side] * 3 + ["gateway"] * 2


# -- forcing a side -------------------------------------------------------------------


def test_an_admin_forces_a_side_anyone_else_is_ignored(cgw, canary_settings, make_user):
    gateway, client = cgw
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    demo_admin = bearer(canary_settings, make_user("admin").id, "admin")  # the demo's hook
    user = bearer(canary_settings, make_user("user").id)

    def side(headers: dict[str, str], asked: str) -> str:
        response = client.get("/api/version", headers={**headers, "X-Figway-Side": asked})
        assert response.status_code == 200, response.text
        return str(response.headers["x-served-by"])

    for admins in (admin, demo_admin):
        assert side(admins, "fastapi") == FASTAPI
        assert side(admins, "flask") == FLASK
        assert side(admins, "sideways") == FLASK  # no side named: the owner's
    assert side(user, "fastapi") == FLASK  # ignored: served as without it
    assert side({}, "fastapi") == FLASK
    # On a canary route too: the admin's side, whatever the canary would pick.
    weigh(gateway, {ROUTE: 100})
    assert side(admin, "flask") == FLASK
    assert side(user, "flask") == FASTAPI
    weigh(gateway, {ROUTE: 0})
    assert side(admin, "fastapi") == FASTAPI
    head = client.head("/api/version", headers={**admin, "X-Figway-Side": "fastapi"})
    assert head.status_code == 200 and head.headers["x-served-by"] == FASTAPI
    assert head.content == b""


def foreign_gateway(tmp_path: Path, **kwargs: Any) -> Gateway:
    manifest = tmp_path / "routes.yaml"
    manifest.write_text(FOREIGN_MANIFEST)
    # figway's state (its live state holds the weights) in a SQLite file of its own.
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    state.upgrade(state_url)
    return create_gateway(
        foreign_settings(tmp_path, admin_token=ADMIN_TOKEN, state_database_url=state_url),
        legacy=foreign_app.legacy,
        modern=foreign_app.modern,
        manifest=manifest,
        **kwargs,
    )


def test_no_twin_no_fastapi_whatever_the_header_or_weight(tmp_path):
    gateway = foreign_gateway(tmp_path)
    # A weight the write refuses (no twin), as if the twin had gone since.
    weigh(gateway, {"GET /about": 100, "GET /items": 100}, follow=False)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Figway-Side": "fastapi"}
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        about = client.get("/about", headers=admin)
        assert about.status_code == 200 and about.headers["x-served-by"] == FLASK
        assert client.get("/about").headers["x-served-by"] == FLASK
        assert client.get("/items").headers["x-served-by"] == FASTAPI


def test_head_on_a_plain_fastapi_twin_a_canary_picks(tmp_path):
    """A plain FastAPI app's GET routes answer HEAD with 405: the gateway calls the twin a
    canary picks with GET, and sends Flask the HEAD, whoever owns the route."""
    gateway = foreign_gateway(tmp_path)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        for owner in (FLASK, FASTAPI):
            for side, weight in ((FASTAPI, 100), (FLASK, 0)):
                weigh(gateway, {"GET /items": weight}, owner)
                head = client.head("/items")
                assert head.status_code == 200, (owner, side, head.text)
                assert head.headers["x-served-by"] == side and head.content == b""
                assert head.headers["content-type"] == "application/json"


def test_a_failing_admin_hook_is_no_admin_and_no_error(tmp_path):
    async def broken(_request: Request) -> str:
        raise RuntimeError("the user database is down")

    async def nobody(_request: Request) -> str:
        raise Forbidden()

    for hook in (broken, nobody):
        gateway = foreign_gateway(tmp_path, admin_auth=hook)
        with TestClient(gateway, base_url="http://127.0.0.1") as client:
            response = client.get("/items", headers={"X-Figway-Side": "fastapi"})
            assert response.status_code == 200
            assert response.headers["x-served-by"] == FLASK


# -- metrics --------------------------------------------------------------------------


def test_metrics_show_the_split_per_route_per_side(cgw, canary_settings):
    gateway, client = cgw
    weigh(gateway, {ROUTE: 30})
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    users = {n: bearer(canary_settings, n) for n in range(1, 201)}
    split = Counter(sides(client, users, "/api/version").values())
    client.get("/api/version", headers={**admin, "X-Figway-Side": "fastapi"})
    text = client.get("/_figway/metrics", headers=admin).text
    route = f'route="{ROUTE}"'
    fastapi = split[FASTAPI] + 1  # the forced one
    assert f'figway_requests_total{{owner="fastapi",{route},status="200"}} {fastapi}.0' in text
    assert f'figway_requests_total{{owner="flask",{route},status="200"}} {split[FLASK]}.0' in text
    for side in (FLASK, FASTAPI):
        line = f'figway_canary_requests_total{{how="canary",{route},side="{side}"}} {split[side]}.0'
        assert line in text
    assert f'figway_canary_requests_total{{how="forced",{route},side="fastapi"}} 1.0' in text


# -- setting a weight: the checks before the seam ------------------------------------


def test_parse_weight():
    assert [parse_weight(t) for t in ("0", "30", " 100 ", "25%", "off", "OFF")] == [
        0,
        30,
        100,
        25,
        None,
        None,
    ]
    for bad in ("101", "-1", "2.5", "", "thirty", "1e2", "٣"):
        with pytest.raises(ValueError, match="0 to 100"):
            parse_weight(bad)


def test_check_weight(tmp_path):
    manifest_path = tmp_path / "routes.yaml"
    manifest_path.write_text(FOREIGN_MANIFEST)
    manifest = mf.load(manifest_path)
    twins = foreign_gateway(tmp_path).modern_keys
    assert check_weight(manifest, "get  /items", 30, twins) == "GET /items"
    assert check_weight(manifest, "GET /hello/<int:n>", None, twins) == "GET /hello/<int:n>"
    for route, weight, problem in [
        ("GET /items", 101, "0 to 100"),
        ("GET /items", -1, "0 to 100"),
        ("GET /items", True, "0 to 100"),
        ("GET /nowhere", 30, "no route 'GET /nowhere'"),
        ("GET /about", 30, "no FastAPI twin for GET /about"),
    ]:
        with pytest.raises(ChangeRefused, match=problem):
            check_weight(manifest, route, weight, twins)


def test_the_admin_api_checks_a_canary_then_sets_it_live(cgw, canary_settings):
    gateway, client = cgw
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def post(body: dict[str, Any], headers: dict[str, str] = admin) -> Any:
        return client.post("/_figway/canary", json=body, headers=headers)

    assert post({"route": ROUTE, "weight": 30}, {}).status_code == 401
    for body in (
        {"route": ROUTE, "weight": 101},
        {"route": ROUTE, "weight": -1},
        {"route": ROUTE, "weight": "30"},
        {"route": ROUTE, "weight": 30.5},
        {"route": ROUTE},
        {"route": ROUTE, "weight": 30, "extra": 1},
    ):
        refused = post(body)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["code"] == "VALIDATION_ERROR"
    unknown = post({"route": "GET /nowhere", "weight": 30})
    assert unknown.status_code == 409 and "no route 'GET /nowhere'" in unknown.json()["error"]
    channel = post({"route": "SOCKETIO /socket.io/", "weight": 30})
    assert channel.status_code == 409 and "Socket.IO" in channel.json()["error"], channel.text
    user = bearer(canary_settings, 7)
    for weight in (30, 0, 100, None):
        done = post({"route": "get /api/version", "weight": weight, "reason": "try"})
        assert done.status_code == 200, done.text
        assert done.json()["route"] == ROUTE and done.json()["weight"] == weight
        # This process serves by it as soon as it answers.
        assert gateway.table.state(ROUTE).weight == weight
        side = client.get("/api/version", headers=user).headers["x-served-by"]
        assert side == (FLASK if weight is None else side_for(ROUTE, "user:7", weight))
    history = client.get("/_figway/history", params={"route": ROUTE}, headers=admin).json()
    assert [(h["action"], h["actor"], h["source"]) for h in history["history"]] == [
        ("canary", "admin-token", "api")
    ] * 4


def test_the_admin_api_refuses_a_canary_without_a_twin(tmp_path):
    gateway = foreign_gateway(tmp_path)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        refused = client.post(
            "/_figway/canary", json={"route": "GET /about", "weight": 10}, headers=admin
        )
        assert refused.status_code == 409
        assert "no FastAPI twin for GET /about" in refused.json()["error"]


@pytest.fixture
def foreign_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Someone else's app for `figway --app` (tests/foreign_app.py), its manifest."""
    monkeypatch.setenv(foreign_app.DIR_VAR, str(tmp_path))
    monkeypatch.delenv("FIGWAY_APP", raising=False)
    path = tmp_path / "routes.yaml"
    path.write_text(FOREIGN_MANIFEST)
    return path


def test_the_cli_checks_a_canary_then_sets_it_live(foreign_manifest, capsys):
    app = ["--app", "tests.foreign_app:make_gateway"]
    before = foreign_manifest.read_bytes()
    for percent in ("101", "-5", "half", "2.5"):
        with pytest.raises(SystemExit) as usage:
            main([*app, "canary", "GET /items", percent])
        assert usage.value.code == 2
        assert "a whole percentage from 0 to 100, or off" in capsys.readouterr().err
    for route, problem in [
        ("GET /nowhere", "refused: no route 'GET /nowhere'"),
        ("GET /about", "refused: no FastAPI twin for GET /about: a canary needs one"),
    ]:
        assert main([*app, "canary", route, "30"]) == 1
        assert problem in capsys.readouterr().err
    assert main([*app, "db", "upgrade"]) == 0
    capsys.readouterr()
    for percent, said in [
        ("30", "30% of callers on fastapi"),
        ("30%", "30% of callers on fastapi"),
        ("0", "0% of callers on fastapi"),
        ("100", "100% of callers on fastapi"),
        ("off", "no canary; its owner serves every caller"),
    ]:
        assert main([*app, "canary", "get /items", percent, "--reason", "try"]) == 0
        out = capsys.readouterr().out
        assert f"GET /items: {said}" in out, out
    assert "written to the live state (version " in out
    assert main([*app, "history", "--route", "GET /items"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 4 and all(" cli  canary   GET /items" in row for row in rows), rows
    assert foreign_manifest.read_bytes() == before  # a canary is no owner change


# -- two processes --------------------------------------------------------------------


def test_two_gateway_processes_keep_each_caller_on_the_same_side(tmp_path):
    """Two real servers (`figway serve`, each its own process and interpreter hash seed)
    sharing one state database, set at 30% by `figway canary`: of 1,000 callers, each
    asking both, 25-35% are on fastapi, and on the same side on both; some of them, 20
    times each across the two, never change side."""
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    env = base_env(tmp_path, FIGWAY_MANIFEST=str(manifest))
    for command in (("db", "upgrade"), ("canary", ROUTE, "30", "--by", "test")):
        done = figway(*command, env=env)
        assert done.returncode == 0, done.stderr
    signer = Settings(_env_file=None, secret_key=env["SECRET_KEY"])
    users = {n: bearer(signer, n) for n in range(1, 1001)}
    with ExitStack() as servers:
        urls = [
            servers.enter_context(
                serving(["serve", "--port", str(port)], {**env, "PYTHONHASHSEED": seed}, port)
            )
            for seed, port in (("1", free_port()), ("2", free_port()))
        ]
        clients = [servers.enter_context(httpx.Client(base_url=u, timeout=30)) for u in urls]
        seen: list[dict[int, str]] = [{}, {}]
        for n, headers in users.items():
            for found, client in zip(seen, clients, strict=True):
                response = client.get("/api/version", headers=headers)
                assert response.status_code == 200, response.text
                found[n] = response.headers["x-served-by"]
        assert seen[0] == seen[1]
        share = Counter(seen[0].values())[FASTAPI] / len(users)
        assert 0.25 <= share <= 0.35, share
        for n in [*[u for u in users if seen[0][u] == FASTAPI][:3], 1, 2, 3]:
            sides_seen = {
                clients[i % 2].get("/api/version", headers=users[n]).headers["x-served-by"]
                for i in range(20)
            }
            assert sides_seen == {seen[0][n]}, n
