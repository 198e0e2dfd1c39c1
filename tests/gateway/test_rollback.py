"""Automatic rollback (gateway/rollback.py): a small foreign Flask app and its FastAPI twins
behind a real gateway, some twins made to fail or to be slow, put in canary (or flipped)
through the live state as `figway canary` and `figway flip` do, under load from threads:
the watchdog rolls the failing ones back to flask, once, fleet-wide, and leaves the
healthy ones alone."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from flask import Flask
from pydantic import SecretStr
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from starlette.testclient import TestClient

from gateway import changes as ops
from gateway import live
from gateway import manifest as mf
from gateway.app import Gateway, create_gateway
from gateway.rollback import roll_back
from gateway.state.migrate import upgrade
from gateway.state.tables import changes as figway_changes
from gateway.table import FASTAPI, FLASK, RouteState
from shared.auth.tokens import issue_token
from shared.config import Settings
from shared.db.engine import sync_url
from shared.db.scratch import scratch_database
from tests import foreign_app
from tests.conftest import MARIADB_SERVER_URL, service_missing
from tests.faults import FaultProxy
from tests.live_states import weigh
from tests.polling import wait_for

TOKEN = "gates-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MANIFEST = """\
phases:
  - {number: 1, name: first, milestone: "1.0"}
routes:
  - {route: "GET /fails", phase: 1, owner: flask, auth: public}
  - {route: "GET /ok", phase: 1, owner: flask, auth: public}
  - {route: "GET /slow", phase: 1, owner: flask, auth: public}
  - {route: "GET /flipped", phase: 1, owner: flask, auth: public}
  - {route: "GET /stale", phase: 1, owner: fastapi, auth: public}
  - {route: "GET /exempt", phase: 1, owner: flask, auth: public, gates: none}
"""
FAILS, OK, SLOW, FLIPPED, STALE, EXEMPT = (
    "GET /fails", "GET /ok", "GET /slow", "GET /flipped", "GET /stale", "GET /exempt",
)  # fmt: skip
SLOW_S = 0.25
ROLLED_BACK = RouteState(FLASK)


def make_apps() -> tuple[Flask, FastAPI]:
    legacy = Flask(__name__, static_folder=None)
    modern = FastAPI()
    failing = ["/fails", "/flipped", "/stale", "/exempt"]

    def flask_answer() -> dict[str, Any]:
        return {"side": "flask"}

    for n, path in enumerate([*failing, "/ok", "/slow"]):
        legacy.add_url_rule(path, f"view{n}", flask_answer)

    async def broken() -> JSONResponse:
        return JSONResponse({"error": "twin broken"}, status_code=500)

    for path in failing:
        modern.add_api_route(path, broken)

    @modern.get("/ok")
    async def ok_twin() -> dict[str, Any]:
        return {"side": "fastapi"}

    @modern.get("/slow")
    async def slow_twin() -> dict[str, Any]:
        await asyncio.sleep(SLOW_S)
        return {"side": "fastapi"}

    return legacy, modern


def settings(where: Path, state_url: str, **changes: Any) -> Settings:
    update = {
        "admin_token": SecretStr(TOKEN),
        "state_database_url": state_url,
        "live_poll_s": 0.1,
        **changes,
    }
    return foreign_app.settings(where).model_copy(update=update)


def build(where: Path, state_url: str, **changes: Any) -> Gateway:
    where.mkdir(parents=True, exist_ok=True)
    path = where / "routes.yaml"
    path.write_text(MANIFEST)
    legacy, modern = make_apps()
    return create_gateway(
        settings(where, state_url, **changes), legacy=legacy, modern=modern, manifest=path
    )


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade(url)
    return url


@pytest.fixture
def running(tmp_path: Path, state_url: str) -> Iterator[tuple[Gateway, TestClient]]:
    gateway = build(tmp_path / "a", state_url)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        yield gateway, client


def callers(gateway: Gateway, n: int = 40) -> list[dict[str, str]]:
    """`n` callers (their bearer tokens), so that a canary splits them."""
    return [
        {"Authorization": f"Bearer {issue_token(gateway.settings, u, 'user')['access_token']}"}
        for u in range(1, n + 1)
    ]


class Load:
    """Threads calling `path` round the callers until stopped; counts (side, status)."""

    def __init__(self, clients: list[TestClient], path: str, users: list[dict[str, str]]) -> None:
        self.got: Counter[tuple[str, int]] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._loop, args=(client, path, users[k::3]), daemon=True)
            for client in clients
            for k in range(3)
        ]

    def _loop(self, client: TestClient, path: str, users: list[dict[str, str]]) -> None:
        for headers in itertools.cycle(users):
            if self._stop.is_set():
                return
            answer = client.get(path, headers=headers)
            with self._lock:
                self.got[answer.headers.get("x-served-by", "?"), answer.status_code] += 1

    def __enter__(self) -> Load:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def rollbacks(state_url: str) -> list[tuple[str, str, str, str, str, str, str | None]]:
    engine = create_engine(sync_url(state_url))
    try:
        with engine.connect() as conn:
            t = figway_changes.c
            query = (
                select(t.actor, t.source, t.action, t.route, t.from_owner, t.to_owner, t.reason)
                .where(t.action == "rollback")
                .order_by(t.id)
            )
            return [tuple(row) for row in conn.execute(query)]
    finally:
        engine.dispose()


def rolled_back(gateway: Gateway, route: str, timeout: float) -> float:
    """Seconds until the gateway serves `route` by flask alone; fails past `timeout`."""
    started = time.monotonic()
    wait_for(lambda: gateway.table.state(route) == ROLLED_BACK, timeout=timeout)
    return time.monotonic() - started


def watching(client: TestClient, route: str) -> dict[str, Any] | None:
    gates = client.get("/_figway/status", headers=AUTH).json()["gates"]
    return next((g for g in gates if g["route"] == route and g["watching"]), None)


def all_flask(client: TestClient, path: str, users: list[dict[str, str]]) -> None:
    answers = [client.get(path, headers=headers) for headers in users]
    assert {(a.headers["x-served-by"], a.status_code) for a in answers} == {(FLASK, 200)}


# --- one gateway -------------------------------------------------------------------------


def test_a_failing_canary_is_rolled_back_once_and_flask_serves_everyone(running, state_url, caplog):
    gateway, client = running
    caplog.set_level(logging.INFO, "figway.gateway")
    users = callers(gateway)
    weigh(gateway, {FAILS: 50})
    wait_for(lambda: watching(client, FAILS))  # the watchdog's next turn
    with Load([client], "/fails", users) as load:
        took = rolled_back(gateway, FAILS, timeout=10)
    # Tripped once fastapi had its 20 requests in the window (60s): seconds, not a minute.
    assert took < 5, took
    assert load.got[FASTAPI, 500] >= 20, load.got
    assert {status for (_, status) in load.got} <= {200, 500}
    (row,) = rollbacks(state_url)
    actor, source, action, route, from_owner, to_owner, reason = row
    assert (actor, source, action, route, from_owner, to_owner) == (
        "auto", "gate", "rollback", FAILS, FLASK, FLASK,
    )  # fmt: skip
    assert reason is not None
    assert reason.startswith("[flask, canary 50% -> flask] error rate 100% > 5% over 60s (")
    assert reason.endswith(" fastapi requests)")
    bare = reason.split("] ", 1)[1]  # without the note of what changed
    # Everyone on flask now, no 5xx, in this process at once (it refreshed on writing).
    all_flask(client, "/fails", users)
    with Load([client], "/fails", users) as load:
        wait_for(lambda: sum(load.got.values()) >= 60)
    assert set(load.got) == {(FLASK, 200)}, load.got
    # One warning line, the counter, and the trip in the status for the dashboard.
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == [f"auto-rollback: {FAILS} back to flask, gate error_rate: {bare}"]
    metrics = client.get("/_figway/metrics", headers=AUTH).text
    assert 'figway_auto_rollbacks_total{gate="error_rate",route="GET /fails"} 1.0' in metrics
    gates = client.get("/_figway/status", headers=AUTH).json()["gates"]
    (trip,) = [g for g in gates if g["route"] == FAILS]
    assert trip["watching"] is False and trip["tripped"] == bare
    assert trip["fastapi"]["requests"] >= 20 and trip["fastapi"]["error_rate"] == 1.0
    assert trip["gate"] == "error_rate"
    # The history says it as for any change (GET /_figway/history).
    history = client.get("/_figway/history", headers=AUTH).json()["history"]
    assert history[0]["actor"] == "auto" and history[0]["action"] == "rollback"


def test_a_healthy_canary_under_the_same_load_stays(running, state_url):
    gateway, client = running
    users = callers(gateway)
    weigh(gateway, {OK: 50, EXEMPT: 50})
    wait_for(lambda: watching(client, OK))
    with Load([client], "/ok", users), Load([client], "/exempt", users) as exempt:
        figures = wait_for(
            lambda: (w := watching(client, OK)) and w["fastapi"]["requests"] >= 40 and w
        )
        wait_for(lambda: exempt.got[FASTAPI, 500] >= 40)
        time.sleep(2.5)  # two more turns of the watchdog with the figures over its gates
    assert figures["fastapi"]["errors"] == 0 and figures["tripped"] is None
    assert figures["flask"]["requests"] >= 20
    assert figures["thresholds"]["error_rate"] == 0.05
    assert figures["why"] == "canary 50%"
    assert gateway.table.state(OK) == RouteState(FLASK, weight=50)
    # `gates: none`: a twin answering nothing but 500s, never rolled back, never watched.
    assert gateway.table.state(EXEMPT) == RouteState(FLASK, weight=50)
    assert watching(client, EXEMPT) is None
    assert rollbacks(state_url) == []


def test_a_slow_canary_trips_the_latency_gate(running, state_url):
    gateway, client = running
    users = callers(gateway)
    weigh(gateway, {SLOW: 50})
    wait_for(lambda: watching(client, SLOW))
    with Load([client], "/slow", users) as load:
        took = rolled_back(gateway, SLOW, timeout=15)
    assert load.got[FASTAPI, 200] >= 20 and load.got[FLASK, 200] >= 20, load.got
    assert not [k for k in load.got if k[1] != 200]  # slow, never failing
    (row,) = rollbacks(state_url)
    reason = row[-1]
    assert reason is not None and "] p99 " in reason
    assert "> 1.5 x flask p99 " in reason and "fastapi, " in reason, reason
    assert took < 10, took
    all_flask(client, "/slow", users[:10])


def test_a_route_flipped_to_fastapi_within_watch_is_watched_by_its_errors(running, state_url):
    """No flask traffic to compare with: the error gate alone. A route on fastapi by the
    file with no flip in the history is not watched (nothing says when it moved)."""
    gateway, client = running
    users = callers(gateway, 10)
    weigh(gateway, {FLIPPED: None}, owner=FASTAPI)  # `figway flip`'s live write, audited
    status = wait_for(lambda: watching(client, FLIPPED))
    assert status["why"].startswith("on fastapi since ")
    with Load([client], "/flipped", users) as load:
        rolled_back(gateway, FLIPPED, timeout=10)
    assert load.got[FASTAPI, 500] >= 20
    (row,) = rollbacks(state_url)
    assert row[3:6] == (FLIPPED, FASTAPI, FLASK)
    assert row[-1] is not None and row[-1].startswith("error rate 100% > 5% over 60s")
    all_flask(client, "/flipped", users)

    assert watching(client, STALE) is None
    answers = [client.get("/stale", headers=users[0]) for _ in range(30)]
    assert {(a.headers["x-served-by"], a.status_code) for a in answers} == {(FASTAPI, 500)}
    assert gateway.table.owner(STALE) == FASTAPI


def test_without_a_live_state_the_rollback_writes_the_file(tmp_path, state_url):
    """File-only mode: the flip to fastapi went through change()'s file path (audited); the
    rollback goes the same way, the manifest file rewritten, one row."""
    gateway = build(tmp_path / "a", state_url)
    path = gateway.watcher.path
    sessions = sessionmaker(create_engine(sync_url(state_url)))
    ops.change(
        path, ops.plan_flip(FLIPPED, FASTAPI), twins=None, sessions=sessions,
        actor="ops", source="cli", action="flip", reason="go", force=True,
    )  # fmt: skip
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        wait_for(lambda: watching(client, FLIPPED))  # the file's flip, read within its poll
        users = callers(gateway, 10)
        with Load([client], "/flipped", users):
            wait_for(lambda: gateway.table.owner(FLIPPED) == FLASK, timeout=10)
        all_flask(client, "/flipped", users)
    assert mf.load(path).entry(FLIPPED).owner == FLASK  # type: ignore[union-attr]
    (row,) = rollbacks(state_url)
    assert row[:6] == ("auto", "gate", "rollback", FLIPPED, FASTAPI, FLASK)
    engine = create_engine(sync_url(state_url))
    with engine.connect() as conn:
        assert live.load_states(conn) is None  # still no live state: the file decides
    engine.dispose()


# --- two gateways, one state database (MariaDB) -------------------------------------------


@pytest.fixture
def shared_db() -> Iterator[str]:
    if not MARIADB_SERVER_URL:
        service_missing("MariaDB (FIGWAY_TEST_DATABASE_URL)")
    with scratch_database(MARIADB_SERVER_URL, "figway_gates") as url:
        upgrade(url)
        yield url


@pytest.mark.mariadb
def test_two_writers_rolling_back_at_the_same_moment_write_one_row(shared_db, tmp_path):
    """Two processes' watchdogs (two engines) tripping on the same state at once: the
    live state's lock serialises them, the second's edit finds the route rolled back."""
    path = tmp_path / "routes.yaml"
    path.write_text(MANIFEST)
    setup = sessionmaker(create_engine(sync_url(shared_db)))
    ops.change_states(
        path, lambda s: {FAILS: RouteState(FLASK, weight=50)}, sessions=setup,
        actor="ops", source="cli", action="canary", reason=None,
    )  # fmt: skip
    seen = RouteState(FLASK, weight=50)
    barrier = threading.Barrier(2)
    results: list[tuple[bool, bool]] = []
    failures: list[BaseException] = []

    def trip(n: int) -> None:
        engine = create_engine(sync_url(shared_db))
        try:
            barrier.wait(10)
            results.append(
                roll_back(path, sessionmaker(engine), FAILS, seen, f"writer {n}", live_mode=True)
            )
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=trip, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert sorted(results) == [(False, True), (True, True)]
    (row,) = rollbacks(shared_db)
    assert row[-1] in {
        "[flask, canary 50% -> flask] writer 1",
        "[flask, canary 50% -> flask] writer 2",
    }


@pytest.mark.mariadb
def test_two_gateways_both_seeing_failures_roll_back_once(shared_db, tmp_path, caplog):
    caplog.set_level(logging.INFO, "figway.gateway")
    a, b = build(tmp_path / "a", shared_db), build(tmp_path / "b", shared_db)
    with (
        TestClient(a, base_url="http://127.0.0.1") as one,
        TestClient(b, base_url="http://127.0.0.1") as two,
    ):
        weigh(a, {FAILS: 50})
        wait_for(lambda: b.table.state(FAILS).weight == 50)
        wait_for(lambda: watching(one, FAILS) and watching(two, FAILS))
        users = callers(a)
        with Load([one, two], "/fails", users) as load:
            rolled_back(a, FAILS, timeout=10)
            rolled_back(b, FAILS, timeout=5)
        assert load.got[FASTAPI, 500] >= 40
        (row,) = rollbacks(shared_db)
        assert row[:4] == ("auto", "gate", "rollback", FAILS)
        all_flask(one, "/fails", users[:10])
        all_flask(two, "/fails", users[:10])
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and warned[0].startswith(f"auto-rollback: {FAILS} back to flask")


@pytest.mark.mariadb
def test_a_rollback_the_state_database_cannot_take_is_tried_again(shared_db, tmp_path, caplog):
    """The state database gone when the gate trips: the canary goes on (nothing could be
    written, and the fleet must not disagree), one warning, tried again until it is back."""
    caplog.set_level(logging.INFO, "figway.gateway")
    direct = make_url(shared_db)
    with FaultProxy(direct.host or "127.0.0.1", direct.port or 3306) as proxy:
        via = direct.set(port=proxy.port).render_as_string(hide_password=False)
        gateway = build(tmp_path / "a", via, db_connect_timeout_s=1, db_read_timeout_s=1)
        with TestClient(gateway, base_url="http://127.0.0.1") as client:
            weigh(gateway, {FAILS: 50})
            wait_for(lambda: watching(client, FAILS))
            users = callers(gateway)
            proxy.down()
            with Load([client], "/fails", users):
                wait_for(lambda: [r for r in caplog.records if "failed, tried again" in r.message])
                assert gateway.table.state(FAILS) == RouteState(FLASK, weight=50)
                proxy.resume()
                rolled_back(gateway, FAILS, timeout=20)
            all_flask(client, "/fails", users[:10])
    (row,) = rollbacks(shared_db)
    assert row[:4] == ("auto", "gate", "rollback", FAILS)
    failed = [r for r in caplog.records if "auto-rollback of" in r.getMessage()]
    assert len(failed) == 1 and failed[0].levelname == "WARNING"
