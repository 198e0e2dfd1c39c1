"""Rate limits in the gateway: the manifest's `limit` and `limits`, the caller, the 429,
live reloads, and the count shared by two real gateway processes through Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from io import StringIO
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from ruamel.yaml import YAML
from starlette.testclient import TestClient

from gateway import manifest as mf
from gateway.app import Gateway
from gateway.asgi import create_figway
from gateway.ratelimit import RateLimiter, RouteLimit, _Memory, parse_limit
from gateway.table import RouteTable
from shared.auth.session_cookie import SessionCookieCodec
from shared.auth.tokens import issue_token
from shared.config import Settings, SettingsError
from tests.conftest import PASSWORD
from tests.gateway.conftest import flip
from tests.polling import wait_for
from tests.servers import base_env, figway, free_port, redis_prefix, serving
from tests.test_contract import legacy_manifest

VERSION = "GET /api/version"
HEALTH = "GET /api/health"
ADMIN_TOKEN = "admin-token-for-tests"


def with_limits(
    path: Path, routes: Mapping[str, str | None], groups: Mapping[str, str] | None = None
) -> None:
    """Give routes of the manifest at `path` a `limit` (None: take it away), and set the
    top-level `limits` groups, as a person would edit the file."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    doc = yaml.load(path.read_text())
    if groups is not None:
        doc["limits"] = dict(groups)
    for item in doc["routes"]:
        if item["route"] in routes:
            if routes[item["route"]] is None:
                item.pop("limit", None)
            else:
                item["limit"] = routes[item["route"]]
    out = StringIO()
    yaml.dump(doc, out)
    mf.atomic_write(path, out.getvalue().encode())


def scope_of(client: str = "10.0.0.1", headers: list[tuple[bytes, bytes]] | None = None):
    return {"type": "http", "headers": headers or [], "client": (client, 5000)}


# -- the manifest -------------------------------------------------------------------------


def test_parse_limit_takes_one_rate_in_limits_syntax():
    assert parse_limit("60/minute").amount == 60
    assert parse_limit("10 per second").get_expiry() == 1
    assert parse_limit("100/5 minutes").get_expiry() == 300
    for bad in ("lots", "60", "1/second;2/minute", ""):
        with pytest.raises(ValueError, match="not a rate"):
            parse_limit(bad)


def test_manifest_limits_parse_and_bad_ones_are_problems_with_lines(tmp_path):
    path = legacy_manifest(tmp_path / "m.yaml")
    with_limits(path, {VERSION: "5/minute", HEALTH: "writes"}, {"writes": "30/minute"})
    loaded = mf.load(path)
    assert loaded.limits == {"writes": "30/minute"}
    assert loaded.by_key[VERSION].limit == "5/minute"
    assert loaded.by_key[HEALTH].limit == "writes"
    assert loaded.by_key["GET /api/videos"].limit is None

    with_limits(path, {VERSION: "lots", HEALTH: "reads"}, {"writes": "often"})
    with pytest.raises(mf.ManifestError) as caught:
        mf.load(path)
    problems = {(p.entry, p.message.split(":")[0]) for p in caught.value.problems}
    assert (VERSION, "limit 'lots'") in problems
    assert (HEALTH, "limit 'reads'") in problems
    assert (None, "limits") in problems
    lines = {p.entry: p.line or 0 for p in caught.value.problems}
    text = ["", *path.read_text().splitlines()]  # 1-based, as the problems count
    assert VERSION in text[lines[VERSION]]
    assert text[lines[None]].startswith("limits:")


def test_table_resolves_routes_groups_none_and_the_default(tmp_path):
    path = legacy_manifest(tmp_path / "m.yaml")
    with_limits(
        path,
        {VERSION: "writes", HEALTH: "writes", "GET /api/videos": "5/minute", "GET /": "none"},
        {"writes": "30/minute"},
    )
    table = RouteTable.from_manifest(mf.load(path), default_limit="100/hour")
    version, health = table.decide("GET", "/api/version"), table.decide("GET", "/api/health")
    assert version.limit is not None and version.limit == health.limit
    assert version.limit.budget == "group:writes" and version.limit.item.amount == 30
    videos = table.decide("GET", "/api/videos").limit
    assert videos is not None and (videos.budget, videos.item.amount) == (
        "route:GET /api/videos",
        5,
    )
    assert table.decide("GET", "/").limit is None  # `none` beats the default
    other = table.decide("GET", "/api/artists").limit
    assert other is not None and other.spec == "100/hour"
    assert other.budget == "route:GET /api/artists"
    assert table.decide("GET", "/nowhere").limit is None
    assert RouteTable.from_manifest(mf.load(path)).decide("GET", "/api/artists").limit is None


# -- the limiter, in memory ---------------------------------------------------------------


def test_memory_limiter_counts_n_per_caller_then_says_when(settings):
    limiter = RateLimiter(settings)
    limit = RouteLimit("route:GET /x", parse_limit("3/minute"), "3/minute")

    async def run() -> tuple[list[int | None], list[int | None]]:
        a = [await limiter.retry_after(limit, scope_of("10.0.0.1")) for _ in range(5)]
        b = [await limiter.retry_after(limit, scope_of("10.0.0.2")) for _ in range(3)]
        return a, b

    a, b = asyncio.run(run())
    assert a[:3] == [None, None, None]
    assert all(isinstance(w, int) and 1 <= w <= 60 for w in a[3:]), a
    assert b == [None, None, None]  # another address, its own budget
    other = RouteLimit("route:GET /y", parse_limit("3/minute"), "3/minute")
    assert asyncio.run(limiter.retry_after(other, scope_of("10.0.0.1"))) is None


def test_memory_storage_sweeps_on_its_one_thread():
    storage = _Memory()
    try:
        sweeper = storage.timer
        for _ in range(100):
            storage.incr("short", expiry=0.05)
        assert storage.timer is sweeper and sweeper.is_alive()  # no timer of its own
        assert storage.storage["short"] == 100
        # Never read again, the expired counter is freed by the sweep.
        wait_for(lambda: "short" not in storage.storage, timeout=3 * _Memory.SWEEP_S)
    finally:
        storage.timer.cancel()
    sweeper.join(timeout=2)
    assert not sweeper.is_alive()


def test_caller_is_the_verified_user_else_the_address(settings):
    codec = SessionCookieCodec(settings)
    limiter = RateLimiter(settings, codec=lambda: codec)
    token = issue_token(settings, 42, "user")["access_token"]

    def caller(*headers: tuple[str, str]) -> str:
        return limiter.caller(scope_of(headers=[(k.encode(), v.encode()) for k, v in headers]))

    assert caller(("authorization", f"Bearer {token}")) == "user:42"
    assert caller(("authorization", "Bearer made-up")) == "addr:10.0.0.1"
    session = codec.dumps({"sid": "secret-sid", "_permanent": True})
    found = caller(("cookie", f"theme=dark; {codec.name}={session}"))
    assert found.startswith("session:") and "secret-sid" not in found
    assert caller(("cookie", f"{codec.name}={codec.dumps({'user_id': 7})}")) == "user:7"
    assert caller(("cookie", f"{codec.name}={session}x")) == "addr:10.0.0.1"  # forged
    assert caller() == "addr:10.0.0.1"
    assert limiter.caller({"type": "http", "headers": [], "client": None}) == "addr:unknown"


# -- through a gateway --------------------------------------------------------------------


@pytest.fixture
def limited(gw_settings: Settings, manifest_path: Path) -> Gateway:
    with_limits(manifest_path, {VERSION: "3/minute"})
    return create_figway(gw_settings)


@pytest.fixture
def lgw(limited: Gateway) -> Iterator[TestClient]:
    with TestClient(limited, base_url="http://127.0.0.1") as client:
        yield client


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.json() == {"error": "Too many requests, retry later", "code": "RATE_LIMITED"}
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["x-served-by"] == "gateway"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("owner", ["flask", "fastapi"])
def test_exactly_n_successes_then_429_on_either_side(limited, lgw, owner):
    if owner == "fastapi":
        flip(limited, VERSION, "fastapi")
        wait_for(lambda: limited.table.owners()[VERSION] == "fastapi")
    answers = [lgw.get("/api/version") for _ in range(6)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429, 429]
    assert {r.headers["x-served-by"] for r in answers[:3]} == {owner}
    for refused in answers[3:]:
        assert_refused(refused)
    assert lgw.get("/api/health").status_code == 200  # no limit there
    metrics = limited.metrics.render().decode()
    assert 'figway_rate_limited_total{route="GET /api/version"} 3.0' in metrics
    assert 'route="GET /api/version",status="429"' in metrics


def test_admin_paths_are_never_limited(gw_settings, manifest_path):
    settings = gw_settings.model_copy(
        update={"rate_limit_default": "1/minute", "admin_token": SecretStr(ADMIN_TOKEN)}
    )
    with_limits(manifest_path, {})
    gateway = create_figway(settings)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        statuses = [client.get("/_figway/metrics", headers=admin) for _ in range(3)]
        assert {r.status_code for r in statuses} == {200}
        # The default applies to every manifest route, each its own budget.
        assert [client.get("/api/version").status_code for _ in range(2)] == [200, 429]
        assert client.get("/api/health").status_code == 200


def test_two_users_and_two_addresses_have_their_own_budgets(limited, lgw, make_user):
    tokens = []
    for role in ("user", "user"):
        user = make_user(role)
        made = lgw.post("/api/auth/token", json={"username": user.username, "password": PASSWORD})
        tokens.append({"Authorization": f"Bearer {made.json()['access_token']}"})
    for headers in tokens:
        statuses = [lgw.get("/api/version", headers=headers).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
    # The anonymous caller at this address still has its whole budget...
    assert [lgw.get("/api/version").status_code for _ in range(4)] == [200, 200, 200, 429]

    # ...and another address has its own.
    async def from_elsewhere() -> list[int]:
        transport = httpx.ASGITransport(app=limited, client=("10.9.8.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return [(await c.get("/api/version")).status_code for _ in range(4)]

    assert lgw.portal is not None
    assert lgw.portal.call(from_elsewhere) == [200, 200, 200, 429]


def test_a_group_budget_is_shared_by_its_routes(gw_settings, manifest_path):
    with_limits(manifest_path, {VERSION: "reads", HEALTH: "reads"}, {"reads": "4/minute"})
    gateway = create_figway(gw_settings)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        paths = ["/api/version", "/api/health"] * 3
        assert [client.get(p).status_code for p in paths] == [200, 200, 200, 200, 429, 429]


def test_a_limit_added_to_the_manifest_applies_without_restart(gateway, gw, manifest_path):
    assert {gw.get("/api/version").status_code for _ in range(5)} == {200}
    generation = gateway.table.generation
    with_limits(manifest_path, {VERSION: "2/minute"})
    wait_for(lambda: gateway.table.generation > generation, timeout=5)
    assert [gw.get("/api/version").status_code for _ in range(3)] == [200, 200, 429]
    with_limits(manifest_path, {VERSION: None})  # and taken away again
    wait_for(lambda: gateway.table.decide("GET", "/api/version").limit is None, timeout=5)
    assert gw.get("/api/version").status_code == 200


def test_a_bad_default_stops_the_gateway(gw_settings):
    with pytest.raises(SettingsError, match="FIGWAY_RATE_LIMIT_DEFAULT"):
        create_figway(gw_settings.model_copy(update={"rate_limit_default": "often"}))


def test_redis_down_serves_every_request_and_says_so_once(gw_settings, manifest_path, caplog):
    with_limits(manifest_path, {VERSION: "1/minute"})
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    gateway = create_figway(gw_settings.model_copy(update={"redis_url": closed}))
    assert gateway.limiter.storage == "redis"
    with (
        caplog.at_level(logging.WARNING, logger="figway.gateway"),
        TestClient(gateway, base_url="http://127.0.0.1") as client,
    ):
        assert [client.get("/api/version").status_code for _ in range(5)] == [200] * 5
    outages = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(outages) == 1, caplog.text
    assert gateway.metrics.registry.get_sample_value("figway_rate_limit_unchecked_total") == 5


# -- two real processes sharing Redis -----------------------------------------------------


@pytest.fixture
def shared_redis(redis_url: str) -> Iterator[tuple[str, str]]:
    """The test Redis and a key prefix of this test's own; its keys deleted after."""
    with redis_prefix(redis_url, "test") as prefix:
        yield redis_url, prefix


def test_a_spent_budget_is_refused_without_asking_redis(gw_settings, manifest_path, shared_redis):
    import redis

    url, prefix = shared_redis
    with_limits(manifest_path, {VERSION: "2/minute"})
    settings = gw_settings.model_copy(update={"redis_url": url, "rate_limit_prefix": prefix})
    gateway = create_figway(settings)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        statuses = [client.get("/api/version").status_code for _ in range(6)]
    assert statuses == [200, 200, 429, 429, 429, 429]
    store = redis.Redis.from_url(url)
    try:
        [key] = list(store.scan_iter(match=prefix + "*"))
        # The third request found the budget spent; the next three never reached Redis.
        assert int(store.get(key) or 0) == 3
        assert 0 < int(store.ttl(key)) <= 60
    finally:
        store.close()


def test_two_gateway_processes_share_one_budget_in_redis(tmp_path, shared_redis):
    import redis

    url, prefix = shared_redis
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    with_limits(manifest, {VERSION: "5/minute"})
    env = base_env(
        tmp_path, FIGWAY_MANIFEST=str(manifest), REDIS_URL=url, FIGWAY_RATE_LIMIT_PREFIX=prefix
    )
    done = figway("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    ports = [free_port(), free_port()]
    with (
        serving(["serve", "--port", str(ports[0])], env, ports[0]) as a,
        serving(["serve", "--port", str(ports[1])], env, ports[1]) as b,
    ):
        answers = [httpx.get((a, b)[i % 2] + "/api/version", timeout=10) for i in range(10)]
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 5
    for refused in answers[5:]:
        assert_refused(refused)
    client = redis.Redis.from_url(url)
    try:
        keys = [k.decode() for k in client.scan_iter(match=prefix + "*")]
    finally:
        client.close()
    assert len(keys) == 1 and "route:GET /api/version" in keys[0], keys
    assert keys[0].startswith(prefix)


def test_status_routes_shows_the_limits(tmp_path, monkeypatch, capsys):
    from gateway.cli import main
    from tests import foreign_app

    monkeypatch.setenv(foreign_app.DIR_VAR, str(tmp_path))
    monkeypatch.delenv("FIGWAY_APP", raising=False)
    path = tmp_path / "routes.yaml"
    assert main(["init", "--app", "tests.foreign_app:legacy", "--out", str(path)]) == 0
    with_limits(path, {"GET /about": "10/minute", "POST /items": "writes"}, {"writes": "5/hour"})
    capsys.readouterr()
    assert main(["--app", "tests.foreign_app:make_gateway", "status", "--routes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listing = lines[next(i for i, line in enumerate(lines) if line.startswith("route")) :]
    rows = {line.split()[1]: line.split() for line in listing}
    assert rows["/about"][4:6] == ["public", "10/minute"]
    assert rows["/items"][4] == "public" and "writes=5/hour" in rows["/items"]
    assert "-" in rows["/hello/<int:n>"]
