"""The fleet's live state (gateway/live.py): route owners (and canary weights and modes) in
figway's tables in the shared state database, every change followed by every gateway
process within a second (Redis pub/sub, or a poll of the version row); none of it until
the live state is created, and the manifest file decides as it always did."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from gateway import changes as ops
from gateway import live
from gateway import manifest as mf
from gateway.asgi import create_figway
from gateway.state.migrate import upgrade
from gateway.state.tables import changes as figway_changes
from gateway.state.tables import live_version
from gateway.state.tables import routes as figway_routes
from gateway.table import RouteState
from shared.config import Settings
from shared.db.engine import sync_url
from shared.db.scratch import scratch_database
from tests.conftest import MARIADB_SERVER_URL, service_missing
from tests.faults import FaultProxy
from tests.polling import wait_for
from tests.servers import Server, base_env, figway, free_port, redis_prefix, running, serving
from tests.test_contract import legacy_manifest

VERSION = "GET /api/version"
TOKEN = "fleet-admin-token-0123456789abcdef"


def sessions_on(url: str) -> tuple[sessionmaker[Session], Callable[[], None]]:
    engine = create_engine(sync_url(url))
    return sessionmaker(engine), engine.dispose


def states_in(url: str) -> dict[str, RouteState] | None:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return live.load_states(conn)
    finally:
        engine.dispose()


def audit(url: str) -> list[tuple[str, str, str, str, str | None]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            t = figway_changes.c
            rows = conn.execute(
                select(t.action, t.route, t.from_owner, t.to_owner, t.reason).order_by(t.id)
            )
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def flip(path: Path, url: str, route: str, to: str, **kwargs: Any) -> ops.Done:
    sessions, dispose = sessions_on(url)
    try:
        return ops.change(
            path,
            ops.plan_flip(route, to),
            twins=None,
            sessions=sessions,
            actor="test",
            source="cli",
            action="flip",
            reason=None,
            force=True,
            **kwargs,
        )
    finally:
        dispose()


def set_weight(path: Path, url: str, route: str, weight: int) -> ops.Done:
    sessions, dispose = sessions_on(url)
    try:
        return ops.change_states(
            path,
            lambda states: {route: replace(states[route], weight=weight)},
            sessions=sessions,
            actor="test",
            source="cli",
            action="canary",
            reason="a tenth",
        )
    finally:
        dispose()


# --- no live state: as today -------------------------------------------------------------


def test_without_a_live_state_a_flip_writes_the_file_and_no_live_row(settings, tmp_path):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    done = flip(manifest, settings.database_url, VERSION, "fastapi")
    assert done.version is None and [c.route for c in done] == [VERSION]
    assert mf.load(manifest).entry(VERSION).owner == "fastapi"  # type: ignore[union-attr]
    assert states_in(settings.database_url) is None
    assert audit(settings.database_url) == [("flip", VERSION, "flask", "fastapi", None)]


def test_state_tables_not_made_are_no_live_state(tmp_path):
    bare = f"sqlite:///{tmp_path / 'bare.db'}"
    create_engine(bare).dispose()
    assert states_in(bare) is None


# --- the CLI: apply, flip, status, export ------------------------------------------------


@pytest.fixture
def cli(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's CLI on a copy of the manifest (every route on flask) and the test's
    database (which holds figway's tables)."""
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    monkeypatch.setenv("FIGWAY_MANIFEST", str(manifest))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", "test-secret-key-0123456789")
    monkeypatch.setenv("FIGWAY_VAR_DIR", str(settings.var_dir))
    for name in ("REDIS_URL", "FIGWAY_STATE_DATABASE_URL", "FIGWAY_APP"):
        monkeypatch.delenv(name, raising=False)
    return manifest


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from gateway.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_glance_at_status_makes_no_state_database(cli, tmp_path, monkeypatch, capsys):
    nowhere = tmp_path / "never-made.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{nowhere}")
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert out.splitlines()[1] == "live state: not created (the manifest file decides)"
    assert not nowhere.exists()


def test_apply_creates_the_live_state_and_flips_then_change_it_not_the_file(cli, settings, capsys):
    url = settings.database_url
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert out.splitlines()[1] == "live state: not created (the manifest file decides)"
    # Asked without a terminal to confirm on: refused, nothing made.
    code, _, err = run(capsys, "apply")
    assert code == 2 and "--yes" in err
    assert states_in(url) is None

    code, out, _ = run(capsys, "apply", "--yes", "--by", "ops")
    assert code == 0, out
    assert "creates it" in out and "applied: live state version 1" in out
    states = states_in(url)
    assert states is not None and {s.owner for s in states.values()} == {"flask"}
    assert len(states) == len(mf.load(cli).entries)
    code, out, _ = run(capsys, "status")
    assert "live state: version 1 (the owners below), as the file says" in out

    before = cli.read_bytes()
    code, out, err = run(capsys, "flip", VERSION, "--to", "fastapi", "--force", "--by", "ops")
    assert code == 0, err
    assert f"{VERSION}: flask -> fastapi" in out
    assert "written to the live state (version 2)" in out
    assert cli.read_bytes() == before  # the file is no longer written
    assert states_in(url)[VERSION].owner == "fastapi"  # type: ignore[index]
    assert audit(url)[-1] == ("flip", VERSION, "flask", "fastapi", None)

    code, out, _ = run(capsys, "status")
    lines = out.splitlines()
    assert lines[1].startswith("live state: version 2 (the owners below); 1 route(s) differ")
    assert lines[2].split() == [*VERSION.split(), "file", "flask", "live", "fastapi"]
    # The phase table counts what is served: the live owners.
    phase = mf.load(cli).entry(VERSION).phase  # type: ignore[union-attr]
    row = next(line for line in lines if line.startswith(f"{phase} "))
    assert row.split()[-2] == "1", row  # one route of its phase on fastapi

    # apply shows what it changes (route: live -> file) and puts the file's owner back.
    code, out, _ = run(capsys, "apply", "--yes")
    assert code == 0
    assert f"  {VERSION}: fastapi -> flask" in out
    assert states_in(url)[VERSION].owner == "flask"  # type: ignore[index]
    code, out, _ = run(capsys, "apply", "--yes")
    assert "nothing to apply" in out
    # What a replica runs as it starts: an existing live state is never undone by it.
    assert run(capsys, "flip", VERSION, "--to", "fastapi", "--force")[0] == 0
    code, out, _ = run(capsys, "apply", "--if-missing")
    assert code == 0 and "exists: left as it is" in out
    assert states_in(url)[VERSION].owner == "fastapi"  # type: ignore[index]


def test_apply_if_missing_creates_it_without_asking(cli, settings, capsys):
    code, out, _ = run(capsys, "apply", "--if-missing")
    assert code == 0 and "creates it" in out
    states = states_in(settings.database_url)
    assert states is not None and len(states) == len(mf.load(cli).entries)


def test_export_writes_the_live_owners_into_the_file_keeping_its_comments(cli, settings, capsys):
    url = settings.database_url
    code, out, err = run(capsys, "export")
    assert code == 1 and "not created" in err
    assert run(capsys, "apply", "--yes")[0] == 0
    assert flip(cli, url, VERSION, "fastapi").version == 2
    set_weight(cli, url, "GET /api/health", 10)
    before = cli.read_text().splitlines()
    assert any(line.lstrip().startswith("#") for line in before)  # it has comments

    code, out, _ = run(capsys, "export")
    assert code == 0, out
    assert f"{VERSION}: flask -> fastapi" in out
    assert "GET /api/health: flask, canary 10%" in out  # not in the file: said
    after = cli.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and "fastapi" in changed[0][1]  # the owner's line, nothing else
    assert mf.load(cli).entry(VERSION).owner == "fastapi"  # type: ignore[union-attr]
    code, out, _ = run(capsys, "status")
    assert "1 route(s) differ" in out  # the canary alone: the owners agree
    code, out, _ = run(capsys, "export")
    assert "nothing to export" in out


def test_a_canary_change_seeds_the_live_state_from_the_file_and_is_audited(settings, tmp_path):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    url = settings.database_url
    flip(manifest, url, VERSION, "fastapi")  # the file's change: no live state yet
    done = set_weight(manifest, url, "GET /api/health", 10)
    assert done.version == 1
    states = states_in(url)
    assert states is not None
    assert states[VERSION] == RouteState("fastapi")  # seeded from the file
    assert states["GET /api/health"] == RouteState("flask", weight=10)
    assert audit(url)[-1] == (
        "canary",
        "GET /api/health",
        "flask",
        "flask",
        "[flask -> flask, canary 10%] a tenth",
    )
    # A change that changes nothing raises no version.
    assert set_weight(manifest, url, "GET /api/health", 10).version == 1


class Overtaken:
    """A follower's connection (each read its own snapshot) whose first read of the version
    a write overtakes: the rows it reads next are the newer version's."""

    def __init__(self, conn: Any, write: Callable[[], object]) -> None:
        self.conn, self.write, self.versions_read = conn, write, 0

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = self.conn.execute(statement, *args, **kwargs)
        if live_version.name in str(statement):
            self.versions_read += 1
            if self.versions_read == 1:
                value = result.all()  # read, then the write lands
                self.write()
                return _Rows(value)
        return result


class _Rows(list[Any]):
    def scalar_one_or_none(self) -> Any:
        return self[0][0] if self else None


def test_a_loaded_version_is_the_one_of_its_rows_when_a_write_overtakes_the_read(tmp_path):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade(url)
    set_weight(manifest, url, "GET /api/health", 10)  # the live state, version 1
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            reader = Overtaken(conn, lambda: flip(manifest, url, VERSION, "fastapi"))
            loaded = live.load_live(reader)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    assert loaded is not None
    version, states = loaded
    # The rows are the flip's: so is the version reported with them (the follower would
    # otherwise say 1 while serving 2, until its next poll).
    assert (version, states[VERSION].owner) == (2, "fastapi")
    assert reader.versions_read >= 3  # read again around the rows of the newer version


@pytest.mark.mariadb
def test_concurrent_writers_of_two_engines_lose_no_update(mariadb_database, tmp_path):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    url = mariadb_database
    from tests.conftest import _empty_tables

    cleaner = create_engine(sync_url(url))
    _empty_tables(cleaner)
    cleaner.dispose()
    set_weight(manifest, url, "GET /api/health", 0)
    each, writers = 12, 3
    failures: list[BaseException] = []

    def one_more(states: dict[str, RouteState]) -> dict[str, RouteState]:
        health = states["GET /api/health"]
        return {"GET /api/health": replace(health, weight=(health.weight or 0) + 1)}

    def bump() -> None:
        # A process of its own, as far as the database can tell: its own engine.
        sessions, dispose = sessions_on(url)
        try:
            for _ in range(each):
                ops.change_states(
                    manifest,
                    one_more,
                    sessions=sessions,
                    actor="bump",
                    source="cli",
                    action="canary",
                    reason=None,
                )
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            dispose()

    threads = [threading.Thread(target=bump) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    states = states_in(url)
    assert states is not None and states["GET /api/health"].weight == each * writers
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        assert live.read_version(conn) == 1 + each * writers
        rows = conn.scalar(select(func.count()).select_from(figway_routes))
        assert rows == len(mf.load(manifest).entries)
    engine.dispose()
    # One row per bump, and the seeding one (weight none -> 0).
    assert sum(1 for row in audit(url) if row[0] == "canary") == 1 + each * writers


# --- one gateway in process: it follows, and says when it cannot --------------------------


def test_a_gateway_follows_the_live_state_and_its_admin_api_writes_it(gw_settings, caplog):
    settings = gw_settings.model_copy(update={"admin_token": SecretStr(TOKEN), "live_poll_s": 0.05})
    url = settings.state_url
    auth = {"Authorization": f"Bearer {TOKEN}"}
    path = settings.manifest
    with TestClient(create_figway(settings), base_url="http://127.0.0.1") as client:
        status = client.get("/_figway/status", headers=auth).json()
        assert status["live"] == {"following": True, "version": None, "problems": [], "drift": []}
        set_weight(path, url, "GET /api/health", 10)  # creates the live state
        flip(path, url, VERSION, "fastapi")  # through the database now: the file stays
        assert mf.load(path).entry(VERSION).owner == "flask"  # type: ignore[union-attr]
        wait_for(lambda: client.get("/api/version").headers["x-served-by"] == "fastapi", 1.0)
        status = client.get("/_figway/status", headers=auth).json()
        assert status["live"]["version"] == 2
        assert {d["route"]: d["state"] for d in status["live"]["drift"]} == {
            VERSION: "fastapi",
            "GET /api/health": "flask, canary 10%",
        }
        # The admin API's flips go through the same path: the live state, not the file.
        back = client.post(
            "/_figway/flip", json={"route": VERSION, "to": "flask", "reason": "x"}, headers=auth
        )
        assert back.status_code == 200, back.text
        assert back.json()["live_version"] == 3
        # Served by it once answered: the flip refreshed this process.
        assert client.get("/api/version").headers["x-served-by"] == "flask"
        assert states_in(url)[VERSION].owner == "flask"  # type: ignore[index]
        # The version row removed by hand: no live state, the file decides again.
        engine = create_engine(sync_url(url))
        with engine.begin() as conn:
            conn.execute(live_version.delete())
        engine.dispose()

        def live_now() -> dict[str, Any]:
            return dict(client.get("/_figway/status", headers=auth).json()["live"])

        wait_for(lambda: not live_now()["drift"], 1.0)
        assert live_now()["version"] is None
    assert not [r for r in caplog.records if r.levelname in {"WARNING", "ERROR"}]


def test_missing_state_tables_are_no_live_state_and_no_noise(gw_settings, tmp_path, caplog):
    bare = f"sqlite:///{tmp_path / 'bare-state.db'}"
    settings = gw_settings.model_copy(
        update={"admin_token": SecretStr(TOKEN), "live_poll_s": 0.02, "state_database_url": bare}
    )
    with TestClient(create_figway(settings), base_url="http://127.0.0.1") as client:
        time.sleep(0.2)  # ten polls
        assert client.get("/api/version").headers["x-served-by"] == "flask"
        live_status = client.get("/_figway/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert live_status.json()["live"]["problems"] == []
    assert not [r for r in caplog.records if "live state" in r.getMessage()]


@pytest.mark.mariadb
def test_a_state_database_gone_keeps_the_last_table_and_says_so(fleet_db, gw_settings, caplog):
    """The state database goes: the gateway serves by the last live state it read, its
    admin status names the problem (logged once), and it follows again once it is back."""
    direct = make_url(fleet_db)
    with FaultProxy(direct.host or "127.0.0.1", direct.port or 3306) as proxy:
        via = direct.set(port=proxy.port).render_as_string(hide_password=False)
        settings = gw_settings.model_copy(
            update={
                "admin_token": SecretStr(TOKEN),
                "live_poll_s": 0.05,
                "state_database_url": via,
                "db_connect_timeout_s": 1,
                "db_read_timeout_s": 1,
            }
        )
        path = settings.manifest
        auth = {"Authorization": f"Bearer {TOKEN}"}
        set_weight(path, fleet_db, "GET /api/health", 10)
        flip(path, fleet_db, VERSION, "fastapi")
        with TestClient(create_figway(settings), base_url="http://127.0.0.1") as client:
            # Read at the start: never served by the file meanwhile.
            assert client.get("/api/version").headers["x-served-by"] == "fastapi"
            proxy.down()
            problems = wait_for(
                lambda: client.get("/_figway/status", headers=auth).json()["live"]["problems"], 5
            )
            assert "the state database is unavailable" in problems[0]
            assert client.get("/api/version").headers["x-served-by"] == "fastapi"
            time.sleep(0.3)  # polls failing all along
            proxy.resume()
            flip(path, fleet_db, VERSION, "flask")
            wait_for(lambda: client.get("/api/version").headers["x-served-by"] == "flask", 5)
            assert client.get("/_figway/status", headers=auth).json()["live"]["problems"] == []
    warned = [r for r in caplog.records if "live state:" in r.getMessage()]
    assert [r.levelname for r in warned] == ["WARNING", "INFO"], [r.getMessage() for r in warned]


# --- two gateway processes, sharing only the state database ------------------------------


@pytest.fixture
def fleet_db() -> Iterator[str]:
    """A MariaDB database of the fleet's own, with figway's state tables."""
    if not MARIADB_SERVER_URL:
        service_missing("MariaDB (FIGWAY_TEST_DATABASE_URL)")
    with scratch_database(MARIADB_SERVER_URL, "figway_fleet") as url:
        upgrade(url)
        yield url


def host_env(root: Path, state_url: str, **extra: str) -> dict[str, str]:
    """One host: its own folder, its own copy of the manifest and its own app database;
    only the state database (and Redis, if given) shared."""
    root.mkdir(parents=True)
    manifest = legacy_manifest(root / "migration_status.yaml")
    settings = {
        "FIGWAY_MANIFEST": str(manifest),
        "FIGWAY_STATE_DATABASE_URL": state_url,
        "FIGWAY_ADMIN_TOKEN": TOKEN,
        "FIGWAY_LIVE_POLL": "0.5",
    }
    return base_env(root, **{**settings, **extra})


class Load:
    """Threads hitting every server's /api/version until stopped; counts what they got."""

    def __init__(self, urls: list[str], threads: int = 3) -> None:
        self.results: Counter[str] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._loop, args=(url,), daemon=True)
            for url in urls
            for _ in range(threads)
        ]

    def _loop(self, url: str) -> None:
        with httpx.Client(timeout=30, limits=httpx.Limits(keepalive_expiry=2.0)) as client:
            while not self._stop.is_set():
                try:
                    got = str(client.get(url + "/api/version").status_code)
                except httpx.HTTPError as exc:
                    got = f"error {type(exc).__name__}"
                with self._lock:
                    self.results[got] += 1

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def served_by(url: str) -> str:
    return httpx.get(url + "/api/version", timeout=10).headers["x-served-by"]


def followed_within(servers: list[Server], side: str, limit: float) -> float:
    """Seconds until every server serves VERSION from `side`; fails past `limit`."""
    started = time.monotonic()
    wait_for(lambda: all(served_by(s) == side for s in servers), limit)
    return time.monotonic() - started


def admin_post(url: str, path: str, body: dict[str, Any]) -> None:
    done = httpx.post(
        url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    assert done.status_code == 200, done.text
    assert done.json()["live_version"] is not None


def admin_flip(url: str, to: str) -> None:
    done = httpx.post(
        url + "/_figway/flip",
        json={"route": VERSION, "to": to, "force": True, "reason": "fleet"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert done.status_code == 200, done.text
    assert done.json()["live_version"] is not None


Launch = Callable[[int, dict[str, str], int], AbstractContextManager[Server]]


def on_loopback(_host: int, env: dict[str, str], port: int) -> AbstractContextManager[Server]:
    return serving(["serve", "--port", str(port)], env, port)


def run_fleet(
    a_env: dict[str, str], b_env: dict[str, str], launch: Launch = on_loopback
) -> list[float]:
    """Two `figway serve` processes: the live state made by `figway apply` on host a, then
    flips, a rollback and a canary's weight through the admin API of one and of the other,
    under load on both."""
    done = figway("db", "upgrade", env=a_env)  # the app's database (the state's is made)
    assert done.returncode == 0, done.stderr
    b_db = Path(b_env["FIGWAY_VAR_DIR"]) / "figway.db"
    b_db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(a_env["FIGWAY_VAR_DIR"]) / "figway.db", b_db)
    ports = [free_port(), free_port()]
    with launch(0, a_env, ports[0]) as a, launch(1, b_env, ports[1]) as b:
        assert served_by(a) == served_by(b) == "flask"
        made = figway("apply", "--yes", "--by", "fleet", env=a_env)
        assert made.returncode == 0, made.stderr
        took = []
        with Load([a, b]) as load:
            for via, to in ((a, "fastapi"), (b, "flask"), (a, "fastapi")):
                admin_flip(via, to)
                took.append(followed_within([a, b], to, 1.0))
            # A rollback through one, then a canary through the other: at 100%, every
            # caller is on fastapi though flask owns the route.
            admin_post(b, "/_figway/rollback", {"route": VERSION, "reason": "fleet"})
            took.append(followed_within([a, b], "flask", 1.0))
            admin_post(a, "/_figway/canary", {"route": VERSION, "weight": 100})
            took.append(followed_within([a, b], "fastapi", 1.0))
            admin_post(b, "/_figway/canary", {"route": VERSION, "weight": None})
            took.append(followed_within([a, b], "flask", 1.0))
        assert set(load.results) == {"200"}, load.results
        assert load.results["200"] > 50
    # Each host's file is as it was: the live state decided.
    for env in (a_env, b_env):
        manifest = mf.load(Path(env["FIGWAY_MANIFEST"]))
        assert manifest.entry(VERSION).owner == "flask"  # type: ignore[union-attr]
    return took


@pytest.mark.mariadb
def test_two_gateways_follow_a_flip_by_polling_the_state_database(fleet_db, tmp_path):
    took = run_fleet(host_env(tmp_path / "a", fleet_db), host_env(tmp_path / "b", fleet_db))
    print(f"followed by both within {max(took):.3f}s (poll)", file=sys.stderr)


# --- the same, each gateway in a network namespace of its own ----------------------------


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@contextmanager
def namespaces(count: int) -> Iterator[list[tuple[str, str, str]]]:
    """`count` network namespaces, each joined to this one by a veth pair of its own: its
    name, this side's address on the link, the namespace's. Deleted at the end (with
    their links). Root and iproute2 are required: missing, a failure under
    FIGWAY_REQUIRE_SERVICES=1, else a skip."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        service_missing("network namespaces (root and iproute2's `ip`)")
    tag = uuid.uuid4().hex[:6]
    net = random.randint(0, 240)  # 10.251.<net + i>.0/24, i for each namespace
    made: list[str] = []
    links: list[str] = []
    hosts = []
    try:
        try:
            for i in range(count):
                name, outside, inside = f"fw{tag}{i}", f"fw{tag}{i}h", f"fw{tag}{i}n"
                subnet = f"10.251.{net + i}"
                _ip("netns", "add", name)
                made.append(name)
                _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
                links.append(outside)
                _ip("link", "set", inside, "netns", name)
                _ip("addr", "add", f"{subnet}.1/24", "dev", outside)
                _ip("link", "set", outside, "up")
                _ip("-n", name, "addr", "add", f"{subnet}.2/24", "dev", inside)
                _ip("-n", name, "link", "set", inside, "up")
                _ip("-n", name, "link", "set", "lo", "up")
                hosts.append((name, f"{subnet}.1", f"{subnet}.2"))
        except subprocess.CalledProcessError as exc:
            service_missing(f"network namespaces ({' '.join(exc.cmd)}: {exc.stderr.strip()})")
        yield hosts
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        for link in links:  # gone with its peer's namespace, unless that move failed
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)


@pytest.mark.mariadb
def test_two_gateways_in_network_namespaces_of_their_own_follow_a_flip(
    fleet_db, redis_url, tmp_path
):
    """Two hosts as far as the network can tell: each gateway in its namespace reaches
    MariaDB and Redis only through its own link (a forwarder on this side of it). With
    Redis, and a poll slower than the second asked for: pub/sub has to carry the flips
    (the test above follows them by polling)."""
    db, cache = make_url(fleet_db), make_url(redis_url)
    with namespaces(2) as hosts, ExitStack() as stack:
        envs = []
        prefix = stack.enter_context(redis_prefix(redis_url, "fleet-ns"))
        for name, here, there in hosts:
            db_link = stack.enter_context(FaultProxy(db.host or "127.0.0.1", db.port or 3306, here))
            cache_link = stack.enter_context(
                FaultProxy(cache.host or "127.0.0.1", cache.port or 6379, here)
            )
            state = db.set(host=here, port=db_link.port).render_as_string(hide_password=False)
            env = host_env(
                tmp_path / name,
                state,
                REDIS_URL=str(cache.set(host=here, port=cache_link.port)),
                FIGWAY_RATE_LIMIT_PREFIX=prefix,
                FIGWAY_TRUSTED_HOSTS=there,
                FIGWAY_LIVE_POLL="5",  # pub/sub has to carry it across
            )
            envs.append(env)

        def in_namespace(i: int, env: dict[str, str], port: int) -> AbstractContextManager[Server]:
            name, _here, there = hosts[i]
            command = ["ip", "netns", "exec", name, sys.executable, "-m", "gateway.cli"]
            command += ["serve", "--host", there, "--port", str(port)]
            log = tmp_path / name / f"server-{port}.log"
            return running(command, env, port, log, host=there)

        took = run_fleet(envs[0], envs[1], in_namespace)
    print(f"followed by both within {max(took):.3f}s (namespaces)", file=sys.stderr)


# --- another app's (--app) -------------------------------------------------------------


def test_apply_flip_status_export_for_another_app(tmp_path, monkeypatch, capsys):
    from tests import foreign_app

    app = "tests.foreign_app:make_gateway"
    monkeypatch.setenv(foreign_app.DIR_VAR, str(tmp_path))
    monkeypatch.delenv("FIGWAY_APP", raising=False)
    path = tmp_path / "routes.yaml"
    assert run(capsys, "init", "--app", "tests.foreign_app:legacy", "--out", str(path))[0] == 0
    assert run(capsys, "--app", app, "db", "upgrade")[0] == 0
    code, out, _ = run(capsys, "--app", app, "apply", "--yes")
    assert code == 0 and "creates it" in out, out
    code, out, err = run(capsys, "--app", app, "flip", "GET /items", "--to", "fastapi", "--force")
    assert code == 0 and "written to the live state (version 2)" in out, err
    # A twinless route is refused in the live state as in the file.
    code, _, err = run(capsys, "--app", app, "flip", "GET /about", "--to", "fastapi", "--force")
    assert code == 1 and "no FastAPI twin for: GET /about" in err
    code, out, _ = run(capsys, "--app", app, "status")
    assert "1 route(s) differ" in out and "GET /items" in out
    assert run(capsys, "--app", app, "export")[0] == 0
    assert mf.load(path).entry("GET /items").owner == "fastapi"  # type: ignore[union-attr]


def test_a_route_the_live_state_has_no_row_for_gets_one_when_changed(settings, tmp_path):
    """A route added to the file after the live state was made is served by the file's
    owner until it is changed; then it has a row like the others."""
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    url = settings.database_url
    set_weight(manifest, url, "GET /api/health", 5)
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(figway_routes.delete().where(figway_routes.c.route == VERSION))
    engine.dispose()
    assert VERSION not in (states_in(url) or {})
    assert flip(manifest, url, VERSION, "fastapi").version == 2
    assert states_in(url)[VERSION] == RouteState("fastapi")  # type: ignore[index]
