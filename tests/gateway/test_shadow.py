"""Shadow traffic (gateway/shadow.py): a route in mode `shadow` is served by its owner and a
sample of its safe requests is replayed on the other side and compared, off the request
path. A small foreign Flask app and its FastAPI twins, some made to differ, behind a real
gateway; the figures in figway's own tables (SQLite and MariaDB), `figway shadow-report`
and GET /_figway/shadow reading them."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from flask import Flask
from flask import request as flask_request
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import create_engine, select
from starlette.testclient import TestClient

from gateway.app import Gateway, create_gateway
from gateway.canary import side_for
from gateway.state.migrate import upgrade
from gateway.state.tables import shadow_fields, shadow_routes
from shared.config import Settings
from tests import foreign_app
from tests.live_states import shadowing, weigh
from tests.polling import wait_for

TOKEN = "operator-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MANIFEST = """\
phases:
  - {number: 1, name: first, milestone: "1.0"}
routes:
  - {route: "GET /same", phase: 1, owner: flask, auth: public}
  - {route: "GET /differs", phase: 1, owner: flask, auth: public}
  - {route: "GET /whoami", phase: 1, owner: flask, auth: public}
  - {route: "GET /slow", phase: 1, owner: flask, auth: public}
  - {route: "GET /big", phase: 1, owner: flask, auth: public}
  - {route: "GET /rows", phase: 1, owner: flask, auth: public}
  - {route: "POST /rows", phase: 1, owner: flask, auth: public}
  - {route: "GET /modern", phase: 1, owner: fastapi, auth: public}
  - {route: "GET /hold", phase: 1, owner: flask, auth: public}
"""
BIG = 64 * 1024


class Sides:
    """What each side was asked: the proof that a write is never replayed."""

    def __init__(self) -> None:
        self.rows: dict[str, list[str]] = {"flask": [], "fastapi": []}
        self.calls: dict[str, int] = {"flask": 0, "fastapi": 0}
        self.release = threading.Event()  # the twin of /slow answers once set
        self.holding = threading.Event()  # /hold holds a legacy thread until set


def make_apps(sides: Sides) -> tuple[Flask, FastAPI]:
    legacy = Flask(__name__, static_folder=None)
    modern = FastAPI()

    def count(side: str) -> None:
        sides.calls[side] += 1

    @legacy.get("/same")
    def same() -> dict[str, Any]:
        count("flask")
        # A timestamp: another value on every call, on both sides alike.
        return {"id": 7, "name": "same", "generated_at": time.time_ns()}

    @modern.get("/same")
    async def same_twin() -> dict[str, Any]:
        count("fastapi")
        return {"id": 7, "name": "same", "generated_at": time.time_ns()}

    @legacy.get("/differs")
    def differs() -> dict[str, Any]:
        count("flask")
        return {"items": [{"id": 1, "price": 10, "at": time.time_ns()}], "total": 1}

    @modern.get("/differs")
    async def differs_twin() -> dict[str, Any]:
        count("fastapi")
        return {"items": [{"id": 1, "price": 11, "at": time.time_ns()}], "total": 1}

    @legacy.get("/whoami")
    def whoami() -> dict[str, Any]:
        user = flask_request.cookies.get("user")
        return {"user": user, "token": flask_request.headers.get("x-token")}

    @modern.get("/whoami")
    async def whoami_twin(request: Request) -> dict[str, Any]:
        return {"user": request.cookies.get("user"), "token": request.headers.get("x-token")}

    @legacy.get("/slow")
    def slow() -> dict[str, Any]:
        return {"slow": True}

    @modern.get("/slow")
    async def slow_twin() -> dict[str, Any]:
        import asyncio

        # Holds the one shadow worker until the test lets it go.
        await asyncio.to_thread(sides.release.wait, 30)
        return {"slow": True}

    @legacy.get("/hold")
    def hold() -> dict[str, Any]:
        sides.holding.wait(30)
        return {"held": True}

    @legacy.get("/big")
    def big() -> dict[str, Any]:
        return {"blob": "x" * BIG}

    @modern.get("/big")
    async def big_twin() -> dict[str, Any]:
        return {"blob": "y" * BIG}

    @legacy.get("/rows")
    def rows() -> dict[str, Any]:
        count("flask")
        return {"rows": len(sides.rows["flask"])}

    @legacy.post("/rows")
    def add_row() -> tuple[dict[str, Any], int]:
        sides.rows["flask"].append("row")
        return {"rows": len(sides.rows["flask"])}, 201

    @modern.get("/rows")
    async def rows_twin() -> dict[str, Any]:
        count("fastapi")
        return {"rows": len(sides.rows["flask"])}  # the same table, as two real twins

    @modern.post("/rows", status_code=201)
    async def add_row_twin() -> dict[str, Any]:
        sides.rows["fastapi"].append("row")
        return {"rows": len(sides.rows["fastapi"])}

    @legacy.get("/modern")
    def modern_route() -> dict[str, Any]:
        count("flask")
        return {"side": "twin", "n": 1}

    @modern.get("/modern")
    async def modern_twin() -> dict[str, Any]:
        count("fastapi")
        return {"side": "twin", "n": 2}

    return legacy, modern


def settings(where: Path, **changes: Any) -> Settings:
    """The foreign app's settings (tests/foreign_app.py), with an admin token."""
    update = {"admin_token": SecretStr(TOKEN), **changes}
    return foreign_app.settings(where).model_copy(update=update)


def build(where: Path, sides: Sides, **changes: Any) -> Gateway:
    manifest = where / "routes.yaml"
    manifest.write_text(MANIFEST)
    legacy, modern = make_apps(sides)
    return create_gateway(
        settings(where, **changes), legacy=legacy, modern=modern, manifest=manifest
    )


@pytest.fixture
def sides() -> Sides:
    return Sides()


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade(url)
    return url


@pytest.fixture
def shadowed(tmp_path: Path, sides: Sides, state_url: str) -> Iterator[tuple[Gateway, TestClient]]:
    gateway = build(tmp_path, sides, state_database_url=state_url)
    shadowing(gateway)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        yield gateway, client


def compared(gateway: Gateway, route: str, n: int) -> Any:
    """Wait until `n` requests of `route` were replayed and compared (or failed)."""

    def done() -> Any:
        stats = gateway.shadow.routes.get(route)
        return stats if stats is not None and stats.compared + stats.errors >= n else None

    return wait_for(done)


def test_a_twin_differing_in_one_field_reports_exactly_that_field(shadowed):
    gateway, client = shadowed
    for _ in range(5):
        answer = client.get("/differs?page=2")
        assert answer.status_code == 200 and answer.json()["items"][0]["price"] == 10
    stats = compared(gateway, "GET /differs", 5)
    assert (stats.compared, stats.matched, stats.differing, stats.errors) == (5, 0, 5, 0)
    report = client.get("/_figway/shadow", params={"route": "GET /differs"}, headers=AUTH)
    assert report.status_code == 200, report.text
    (route,) = report.json()["routes"]
    assert [d["field"] for d in route["differences"]] == ["$.items[0].price"]
    (found,) = route["differences"]
    assert (found["differing"], found["noise"]) == (5, 0)
    example = found["example"]
    assert (example["method"], example["target"]) == ("GET", "/differs?page=2")
    assert (example["owner"], example["other"]) == ("10", "11")
    # The timestamp differs too, but on the owner itself as well: noise, never reported.
    assert route["noise"] == {"$.items[0].at": 5}
    assert route["match_rate"] == 0.0


def test_an_identical_twin_with_a_timestamp_reports_no_difference(shadowed, sides):
    gateway, client = shadowed
    for _ in range(6):
        assert client.get("/same").status_code == 200
    stats = compared(gateway, "GET /same", 6)
    assert (stats.compared, stats.matched, stats.differing) == (6, 6, 0)
    # Each side was asked: the caller's request, its replay on the twin, the owner again.
    assert sides.calls == {"flask": 12, "fastapi": 6}
    report = client.get("/_figway/shadow", headers=AUTH).json()
    (route,) = [r for r in report["routes"] if r["route"] == "GET /same"]
    assert route["differences"] == []
    assert route["noise"] == {"$.generated_at": 6}
    assert route["match_rate"] == 1.0


def test_a_route_owned_by_fastapi_is_replayed_on_flask(shadowed):
    """The other side is the WSGI app, in a2wsgi's threads."""
    gateway, client = shadowed
    assert client.get("/modern").json() == {"side": "twin", "n": 2}
    compared(gateway, "GET /modern", 1)
    fields = {name for name, f in gateway.shadow.routes["GET /modern"].fields.items()}
    assert fields == {"$.n"}


def test_the_replay_is_the_callers_user(shadowed):
    gateway, client = shadowed
    client.cookies.set("user", "ada")
    assert client.get("/whoami", headers={"X-Token": "t-1"}).json()["user"] == "ada"
    stats = compared(gateway, "GET /whoami", 1)
    assert (stats.matched, stats.differing) == (1, 0)


def test_a_write_on_a_shadowed_route_is_never_replayed(shadowed, sides):
    gateway, client = shadowed
    for _ in range(3):
        assert client.post("/rows").status_code == 201
        assert client.get("/rows").status_code == 200
    compared(gateway, "GET /rows", 3)
    # The POSTs reached their owner only; the GETs were replayed (and matched).
    assert sides.rows == {"flask": ["row"] * 3, "fastapi": []}
    assert "POST /rows" not in gateway.shadow.routes
    assert gateway.shadow.routes["GET /rows"].matched == 3
    # A GET carrying a body is not replayed either (a safe method, an unsafe request).
    assert client.request("GET", "/rows", content=b"x=1").status_code == 200
    wait_for(lambda: gateway.shadow.routes["GET /rows"].skipped == 1)
    assert gateway.shadow.routes["GET /rows"].compared == 3
    assert sides.calls["fastapi"] == 3


def test_a_full_queue_drops_and_counts_the_caller_unaffected(tmp_path, sides, state_url):
    gateway = build(tmp_path, sides, state_database_url=state_url, shadow_queue=2, shadow_workers=1)
    shadowing(gateway)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        try:
            started = time.monotonic()
            answers = [client.get("/slow") for _ in range(10)]
            took = time.monotonic() - started
            # The one worker holds the first replay, the queue two more: seven dropped.
            stats = gateway.shadow.routes["GET /slow"]
            assert (stats.dropped, stats.compared) == (7, 0)
            assert [a.json() for a in answers] == [{"slow": True}] * 10
            assert took < 5  # no caller waited for the blocked replay
        finally:
            sides.release.set()
        stats = compared(gateway, "GET /slow", 3)
        assert (stats.compared, stats.matched, stats.dropped) == (3, 3, 7)


def test_a_replay_takes_no_legacy_thread_a_caller_could_need(tmp_path, sides, state_url):
    gateway = build(tmp_path, sides, state_database_url=state_url, legacy_threads=1)
    shadowing(gateway)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        held = threading.Thread(target=client.get, args=("/hold",))
        held.start()
        try:
            wait_for(lambda: gateway.legacy.in_flight == 1)
            # Owned by fastapi, replayed on flask: its one thread is a caller's, so the
            # replay is dropped rather than queued behind it.
            assert client.get("/modern").json()["n"] == 2
            wait_for(lambda: gateway.shadow.routes["GET /modern"].dropped == 1)
        finally:
            sides.holding.set()
            held.join(30)
        assert client.get("/modern").status_code == 200
        stats = compared(gateway, "GET /modern", 1)
        assert (stats.compared, stats.dropped) == (1, 1)


def test_a_body_past_the_limit_is_skipped(tmp_path, sides, state_url):
    gateway = build(tmp_path, sides, state_database_url=state_url, shadow_max_body=BIG // 2)
    shadowing(gateway)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        assert len(client.get("/big").content) > BIG
        assert client.get("/same").status_code == 200
        compared(gateway, "GET /same", 1)
    assert gateway.shadow.routes["GET /big"].skipped == 1
    assert gateway.shadow.routes["GET /big"].compared == 0


def test_the_queue_is_bounded_in_bytes_too(tmp_path, sides, state_url):
    gateway = build(tmp_path, sides, state_database_url=state_url, shadow_queue_bytes=BIG)
    shadowing(gateway)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        # Under FIGWAY_SHADOW_MAX_BODY, past what the queue may hold in all: dropped; a
        # small answer still goes.
        assert len(client.get("/big").content) > BIG
        assert client.get("/same").status_code == 200
        compared(gateway, "GET /same", 1)
    stats = gateway.shadow.routes["GET /big"]
    assert (stats.dropped, stats.compared + stats.skipped) == (1, 0)
    assert gateway.shadow.queued_bytes == 0


def _exchange(client: TestClient, method: str, path: str) -> tuple[Any, ...]:
    answer = client.request(method, path)
    return answer.status_code, answer.headers.raw, answer.content


def test_the_callers_answer_is_byte_identical_with_shadowing_on_and_off(tmp_path, state_url):
    paths = ["/whoami", "/big", "/rows", "/modern"]  # no timestamp: alike from run to run
    seen: dict[str, list[tuple[Any, ...]]] = {}
    for mode in ("off", "on"):
        where = tmp_path / mode
        where.mkdir()
        gateway = build(where, Sides(), state_database_url=state_url)
        if mode == "on":
            shadowing(gateway)
        with TestClient(gateway, base_url="http://127.0.0.1") as client:
            seen[mode] = [_exchange(client, m, p) for p in paths for m in ("GET", "HEAD")]
            if mode == "on":
                compared(gateway, "GET /whoami", 2)
    assert seen["on"] == seen["off"]
    assert all(exchange[0] == 200 for exchange in seen["on"])


def test_heads_are_replayed_as_heads(shadowed, sides):
    gateway, client = shadowed
    answer = client.head("/modern")
    assert answer.status_code == 200 and answer.content == b""
    stats = compared(gateway, "GET /modern", 1)
    # Status and headers compared; no body on either side.
    assert (stats.matched, stats.differing) == (1, 0)


def test_a_canary_route_is_replayed_on_the_side_that_did_not_serve_each_caller(
    tmp_path, sides, state_url
):
    """Shadow mode and a canary weight on one route: each caller's answer, from its side,
    is replayed on the other side and on that side again."""
    gateway = build(tmp_path, sides, state_database_url=state_url)
    shadowing(gateway)
    weigh(gateway, {"GET /differs": 50}, follow=False)  # the mode kept, read at start
    served: Counter[str] = Counter()
    with TestClient(gateway, base_url="http://127.0.0.1") as first:
        first.get("/same")  # the lifespan started once, for every client below
        for n in range(40):
            address = f"10.1.0.{n + 1}"
            client = TestClient(gateway, base_url="http://127.0.0.1", client=(address, 4000))
            answer = client.get("/differs")
            side = answer.headers["x-served-by"]
            assert side == side_for("GET /differs", f"addr:{address}", 50)
            assert answer.json()["items"][0]["price"] == (10 if side == "flask" else 11)
            served[side] += 1
        stats = compared(gateway, "GET /differs", 40)
        compared(gateway, "GET /same", 1)
    assert served["flask"] and served["fastapi"], served  # both sides had callers
    assert (stats.compared, stats.differing, stats.errors) == (40, 40, 0)
    # A caller's own side answered twice (the caller, the noise replay), the other once.
    fastapi = sides.calls["fastapi"] - 1  # without /same's replay on the twin
    flask = sides.calls["flask"] - 2  # without /same itself and its noise replay
    assert (flask, fastapi) == (2 * served["flask"] + served["fastapi"],
                                2 * served["fastapi"] + served["flask"])  # fmt: skip
    assert stats.fields["$.items[0].price"].differing == 40


def test_the_shadow_figures_are_prometheus_counters(shadowed):
    gateway, client = shadowed
    for _ in range(3):
        client.get("/differs")
    for _ in range(2):
        client.get("/same")
    compared(gateway, "GET /differs", 3)
    compared(gateway, "GET /same", 2)
    client.post("/rows")  # a write: never sampled, never counted
    text = client.get("/_figway/metrics", headers=AUTH).text
    found = {
        (sample.labels["route"], sample.labels["result"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "figway_shadow_requests"
        for sample in family.samples
        if sample.name == "figway_shadow_requests_total"
    }
    assert {k: v for k, v in found.items() if v} == {
        ("GET /differs", "differing"): 3.0,
        ("GET /same", "matched"): 2.0,
    }
    assert ("GET /same", "dropped") in found  # every result named, 0 until it happens
    assert not any(route == "POST /rows" for route, _ in found)


def test_a_sample_of_zero_replays_nothing_and_shutdown_leaves_no_task(tmp_path, sides, state_url):
    gateway = build(tmp_path, sides, state_database_url=state_url)
    shadowing(gateway, sample=0)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        for _ in range(5):
            client.get("/same")
    assert gateway.shadow.routes == {}
    assert sides.calls == {"flask": 5, "fastapi": 0}
    # With shadowing on, the workers run; the lifespan's end cancels them (pytest turns
    # a task destroyed pending into an error).
    shadowing(gateway, sample=100)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        client.get("/same")
        compared(gateway, "GET /same", 1)
        tasks = gateway.shadow.tasks
        assert len(tasks) == gateway.settings.shadow_workers + 1  # and the flusher
    assert all(task.done() for task in tasks)
    assert gateway.shadow.tasks == ()
    # Started again (another event loop): replays go on.
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        for n in (2, 3):  # the second waits on the queue: one of this loop's
            client.get("/same")
            compared(gateway, "GET /same", n)


DIR_VAR, STATE_VAR = "FIGWAY_SHADOW_TEST_DIR", "FIGWAY_SHADOW_TEST_STATE"


def cli_gateway() -> Gateway:
    """For `figway --app tests.gateway.test_shadow:cli_gateway`: the test's state."""
    return build(Path(os.environ[DIR_VAR]), Sides(), state_database_url=os.environ[STATE_VAR])


def test_shadow_report_sums_the_processes_rows(tmp_path, empty_database, monkeypatch, capsys):
    """Two processes' figures in figway_shadow_*, and `figway shadow-report` and the admin
    API summing them, the differences with their examples."""
    from gateway.cli import main

    upgrade(empty_database)
    written = []
    for n, name in enumerate(("one", "two")):
        where = tmp_path / name
        where.mkdir()
        gateway = build(where, Sides(), state_database_url=empty_database, shadow_flush_s=0.05)
        shadowing(gateway)
        with TestClient(gateway, base_url="http://127.0.0.1") as client:
            for _ in range(2 + n):
                client.get("/differs", params={"n": name})
                client.get("/same")
            compared(gateway, "GET /differs", 2 + n)
            compared(gateway, "GET /same", 2 + n)
            # Flushed every 0.05 s by the process itself, off the request path.
            wait_for(partial(_rows, empty_database, gateway.shadow.process))
            written.append(gateway.shadow.process)
    engine = create_engine(empty_database)
    with engine.connect() as db:
        routes = db.execute(select(shadow_routes)).mappings().all()
        fields = db.execute(select(shadow_fields)).mappings().all()
    engine.dispose()
    assert {r["process"] for r in routes} == set(written)
    differs = [r for r in routes if r["route"] == "GET /differs"]
    assert sorted(r["compared"] for r in differs) == [2, 3]
    price = [f for f in fields if f["field"] == "$.items[0].price"]
    assert sorted(f["differing"] for f in price) == [2, 3]
    assert {f["example_target"] for f in price} == {"/differs?n=one", "/differs?n=two"}

    monkeypatch.setenv(DIR_VAR, str(tmp_path / "one"))
    monkeypatch.setenv(STATE_VAR, empty_database)
    app = ["--app", "tests.gateway.test_shadow:cli_gateway"]
    assert main([*app, "shadow-report", "--route", "GET /differs"]) == 0
    out = capsys.readouterr().out
    first = min((f for f in price), key=lambda f: f["example_at"])
    assert out.splitlines() == [
        "GET /differs: 5 compared, 0 matched (0.0%), 5 differing; 0 dropped, 0 skipped, 0 errors",
        "  noise: $.items[0].at (5)",
        "  $.items[0].price: differs in 5 of 5 (noise 0)",
        f"    e.g. GET {first['example_target']}: owner 10, other 11",
    ]
    assert main([*app, "shadow-report"]) == 0
    out = capsys.readouterr().out
    assert "GET /same: 5 compared, 5 matched (100.0%), 0 differing;" in out
    assert "  differences: none past the thresholds" in out


def _rows(url: str, process: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            found = db.execute(
                select(shadow_routes.c.compared).where(shadow_routes.c.process == process)
            ).all()
    finally:
        engine.dispose()
    return sum(row.compared for row in found) >= 4 if found else False


def test_figway_shadow_checks_the_request_then_sets_it_live(
    tmp_path, state_url, monkeypatch, capsys
):
    from gateway.cli import main

    (tmp_path / "cli").mkdir()
    monkeypatch.setenv(DIR_VAR, str(tmp_path / "cli"))
    monkeypatch.setenv(STATE_VAR, state_url)
    app = ["--app", "tests.gateway.test_shadow:cli_gateway"]
    assert main([*app, "shadow", "POST /rows", "--sample", "10"]) == 1
    assert "only GET routes are shadowed" in capsys.readouterr().err
    assert main([*app, "shadow", "GET /nowhere", "--sample", "10"]) == 1
    assert "no route 'GET /nowhere'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*app, "shadow", "GET /same", "--sample", "101"])
    assert "a percentage, 1 to 100" in capsys.readouterr().err
    assert main([*app, "shadow", "GET /same", "--sample", "10"]) == 0
    assert capsys.readouterr().out.startswith("GET /same: shadow 10%\nwritten to the live state")
    assert main([*app, "shadow", "GET /same", "--off"]) == 0
    assert capsys.readouterr().out.startswith("GET /same: shadow off\n")
    assert main([*app, "history", "--route", "GET /same"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 2 and all(" cli  shadow   GET /same" in row for row in rows), rows
    assert "shadow 10%" in rows[0] and "-> flask]" in rows[1], rows


def test_the_admin_api_checks_a_shadow_request_then_sets_it_live(shadowed):
    gateway, client = shadowed
    post = client.post("/_figway/shadow", json={"route": "GET /same", "sample": 10}, headers=AUTH)
    assert post.status_code == 200, post.text
    # This process serves by it as soon as it answers.
    assert gateway.table.state("GET /same").sample == 10
    off = client.post("/_figway/shadow", json={"route": "GET /same", "sample": None}, headers=AUTH)
    assert off.status_code == 200, off.text
    assert gateway.table.state("GET /same").mode == "serve"
    write = client.post("/_figway/shadow", json={"route": "POST /rows", "sample": 5}, headers=AUTH)
    assert write.status_code == 409 and "only GET routes" in write.json()["error"]
    wrong = client.post("/_figway/shadow", json={"route": "GET /same", "sample": 0}, headers=AUTH)
    assert wrong.status_code == 400  # the app's validation error, in its shape
    assert client.get("/_figway/shadow").status_code == 401


def test_shadowing_a_route_again_starts_its_figures_afresh(shadowed, state_url):
    """Off keeps the figures for the report; on again (the twin fixed, say) starts anew,
    the rows of other processes, dead ones too, gone."""
    gateway, client = shadowed
    route = {"route": "GET /differs"}

    def report() -> dict[str, Any]:
        answer = client.get("/_figway/shadow", params=route, headers=AUTH)
        assert answer.status_code == 200, answer.text
        found = answer.json()["routes"]
        return found[0] if found else {"compared": 0, "differences": []}

    for _ in range(3):
        client.get("/differs")
    compared(gateway, "GET /differs", 3)
    engine = create_engine(state_url)
    with engine.begin() as db:  # a process of the fleet that has since gone away
        db.execute(
            shadow_routes.insert().values(
                process="gone:1:0", route="GET /differs", compared=4, matched=0, differing=4,
                dropped=0, skipped=0, errors=0, updated_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )  # fmt: skip
    assert report()["compared"] == 3 + 4
    off = client.post("/_figway/shadow", json={**route, "sample": None}, headers=AUTH)
    assert off.status_code == 200, off.text
    assert report()["compared"] == 7  # kept while off
    resampled = client.post("/_figway/shadow", json={**route, "sample": 100}, headers=AUTH)
    assert resampled.status_code == 200, resampled.text
    wait_for(lambda: "GET /differs" not in gateway.shadow.routes)
    after = report()
    assert (after["compared"], after["differences"]) == (0, [])
    for _ in range(2):
        client.get("/differs")
    compared(gateway, "GET /differs", 2)
    assert report()["compared"] == 2
    # A new sample while on is the same period: its figures stay.
    more = client.post("/_figway/shadow", json={**route, "sample": 50}, headers=AUTH)
    assert more.status_code == 200, more.text
    assert report()["compared"] == 2
    with engine.connect() as db:
        processes = db.execute(
            select(shadow_routes.c.process).where(shadow_routes.c.route == "GET /differs")
        ).scalars()
        assert list(processes) == [gateway.shadow.process]
    engine.dispose()


def test_a_field_is_reported_past_both_thresholds_over_its_noise():
    """Diffy's test: the difference rate over the noise rate, by percentage points
    (absolute) and by a share of the noise rate (relative)."""
    from gateway.shadow import reported

    # Never noisy: reported at its first difference, however rare, past 0.03 points.
    assert reported(1000, 1, 0, absolute=0.03, relative=20)
    assert not reported(10_000, 1, 0, absolute=0.03, relative=20)  # 0.01 points
    # As noisy on the owner as against the twin: a timestamp, never reported.
    assert not reported(100, 100, 100, absolute=0.03, relative=20)
    # Noisy half the time, different every time: 50 points and 100% over the noise.
    assert reported(100, 100, 50, absolute=0.03, relative=20)
    # 10% over the noise rate: under a 20% relative threshold, over a 5% one.
    assert not reported(1000, 550, 500, absolute=0.03, relative=20)
    assert reported(1000, 550, 500, absolute=0.03, relative=5)
    assert not reported(0, 0, 0, absolute=0.03, relative=20)
