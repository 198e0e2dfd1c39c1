"""Memory: where the migration ends (the FastAPI app alone, Flask absent, the production
settings) against the Flask app alone under gunicorn, idle and under the I/O-bound search
load; the gateway of today (both apps in one process) beside them.

Memory is read from /proc over each server's whole process tree (gunicorn's master and
its worker; uvicorn with one worker is one process), never from inside the servers. The
end state is served by bench/endstate.py, which refuses to serve with Flask or werkzeug
loaded and reports what the process ended with.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    PROVIDER_SEARCH,
    Load,
    base_env,
    bench_database,
    create_user,
    figway,
    free_port,
    running,
    setting,
    token,
    tree_memory_kb,
    wait_owner,
    wrk,
)
from bench.metadata import GATEWAY_CONNECTIONS, LATENCY_MS, ROUTE, SEARCH
from bench.report import Goal, Scenario, Side
from gateway import changes as ops

ROOT = Path(__file__).resolve().parent.parent
# The owners' plan: "Memory Efficiency: 30% reduction in baseline usage", at the end of
# the migration: the end state against the Flask app alone.
GOAL = 0.7
SAMPLE_EVERY_S = 0.2
REDIS_ENV = "FIGWAY_BENCH_REDIS_URL"


@dataclass
class _Memory:
    """KiB over the process tree: RSS (shared pages counted once per process) and PSS."""

    idle_rss: int
    idle_pss: int
    loaded_rss: int  # the largest sample while the load ran
    loaded_pss: int
    after_rss: int  # once the load is over: what the server keeps
    load: Load


def memory(workdir: Path, quick: bool) -> Scenario:
    work = workdir / "memory"
    work.mkdir(parents=True, exist_ok=True)
    with bench_database(work) as (url, database):
        return _memory(work, quick, url, database)


def _memory(work: Path, quick: bool, database_url: str, database: str) -> Scenario:
    seconds, settle = (3.0, 0.5) if quick else (10.0, 2.0)
    manifest = work / "migration_status.yaml"
    shutil.copy(ROOT / "migration_status.yaml", manifest)
    # The twin serves the search in the gateway, as the migration intends.
    ops.apply(manifest, ops.plan_flip(ROUTE, "fastapi"), twins=None)
    logs = work / "logs"
    ports = {name: free_port() for name in ("provider", "gateway", "gunicorn", "uvicorn")}
    env = base_env(
        work,
        FIGWAY_MANIFEST=str(manifest),
        METADATA_BASE_URL=f"http://127.0.0.1:{ports['provider']}",
        DATABASE_URL=database_url,
    )
    figway("db", "upgrade", env=env)
    create_user(database_url)
    # Every server runs with the same settings: production's, where they can be had here.
    env, production = _production(env)
    python = sys.executable
    threads = setting("legacy_threads")

    def measure(server: str, pid: int, owner: str | None) -> _Memory:
        auth = f"Authorization: Bearer {token(server)}"
        # At least one search before "idle": imports made on first use count as idle memory.
        if owner is not None:
            wait_owner(server + SEARCH, auth, owner)
        else:
            _warm(server + SEARCH, auth)
        idle = _settled(pid, settle)
        peak = _Peak(pid)
        with peak:
            load = wrk(
                server + SEARCH, connections=GATEWAY_CONNECTIONS, seconds=seconds, headers=(auth,)
            )
        after = _settled(pid, settle)
        return _Memory(idle[0], idle[1], peak.rss, peak.pss, after[0], load)

    with running(
        [
            python,
            *("-m", "gateway.cli", "fake-provider", "--port", str(ports["provider"])),
            *("--latency-ms", str(LATENCY_MS)),
        ],
        env,
        ports["provider"],
        logs / "provider.log",
        ready_path=PROVIDER_SEARCH,
    ):
        # One server at a time, so none shares the cores with another's load.
        with running(
            [
                python,
                *("-m", "gateway.cli", "serve", "--port", str(ports["gateway"])),
                *("--workers", "1"),
            ],
            env,
            ports["gateway"],
            logs / "gateway.log",
        ) as gw:
            gateway = measure(gw, gw.pid, "fastapi")
        with running(
            [
                python,
                *("-m", "gunicorn", "-k", "gthread", "-w", "1", "--threads", str(threads)),
                *("-b", f"127.0.0.1:{ports['gunicorn']}", "--log-level", "warning"),
                "bench.apps:legacy_wsgi()",
            ],
            env,
            ports["gunicorn"],
            logs / "gunicorn.log",
        ) as gunicorn:
            flask = measure(gunicorn, gunicorn.pid, None)
        # Where the migration ends: the FastAPI app alone, Flask absent (bench/endstate.py
        # refuses to serve otherwise, and reports what the process ended with).
        loaded = work / "endstate-modules.json"
        with running(
            [
                python,
                *("-m", "bench.endstate", "--port", str(ports["uvicorn"])),
                *("--modules-out", str(loaded)),
            ],
            env,
            ports["uvicorn"],
            logs / "fastapi.log",
        ) as uvicorn:
            fastapi = measure(uvicorn, uvicorn.pid, None)
    _refuse_flask(loaded)
    return _report(gateway, flask, fastapi, production, threads, settle, seconds, database)


def _production(env: dict[str, str]) -> tuple[dict[str, str], bool]:
    """`env` with production's settings (deploy/systemd/figway.env.example), checked by
    `figway check-config --production` as the systemd unit checks them before it starts;
    and whether they could be had: they need Redis (the download queue), and without one
    answering at FIGWAY_BENCH_REDIS_URL the servers run with the bench's settings."""
    redis_url = os.environ.get(REDIS_ENV, "").strip()
    if not redis_url or not _redis_answers(redis_url):
        print(f"bench: no Redis at {redis_url or '(unset)'}: memory without production settings")
        return env, False
    production = {k: v for k, v in env.items() if k != "FIGWAY_SCRYPT_N"}  # the default cost
    production.update(
        FIGWAY_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(48),
        REDIS_URL=redis_url,
        # A queue of its own: nothing of this run reaches another's workers.
        FIGWAY_CELERY_QUEUE=f"bench-{uuid.uuid4().hex}",
        FIGWAY_COOKIE_SECURE="true",
        FIGWAY_TRUSTED_HOSTS="localhost,127.0.0.1",
    )
    check = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", "--production"],
        env=production,
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        raise RuntimeError(f"the production settings are refused:\n{check.stdout}{check.stderr}")
    return production, True


def _redis_answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _refuse_flask(path: Path) -> None:
    """Refuses a run whose end state (bench/endstate.py, at its exit) had loaded Flask."""
    found = json.loads(path.read_text())
    if found["refused"]:
        raise RuntimeError(f"the end state imported {found['refused']} while it served")


def _report(
    gateway: _Memory,
    flask: _Memory,
    fastapi: _Memory,
    production: bool,
    threads: int,
    settle: float,
    seconds: float,
    database: str,
) -> Scenario:
    def ratio(a: int, b: int) -> float:
        return a / max(b, 1)

    settings = (
        "the production settings (FIGWAY_ENV=production, REDIS_URL with a Celery queue of "
        "its own, secure cookies, trusted hosts, the default password cost; `figway "
        "check-config --production` passes)"
        if production
        else "the bench's settings (no Redis answered, so not production's)"
    )
    return Scenario(
        "Memory: the end state against Flask alone",
        f"Resident memory (RSS from /proc, summed over the server's process tree) of the "
        f"end state, the FastAPI app alone as production would serve it (uvicorn, 1 worker, "
        f"`figway serve`'s protocol; bench/endstate.py, which refuses to "
        f"serve with Flask or werkzeug imported and checks again at its exit), against the "
        f"Flask app alone under gunicorn (gthread, 1 worker, {threads} threads: its master "
        f"and its worker); beside them, the gateway of today, `figway serve --workers 1` "
        f"(the search owned by the FastAPI twin, the Flask app mounted beside it). One "
        f"after the other on {database}, each with {settings}. Idle: after one search "
        f"request (so that imports made on first use count), {settle:g} s later. Loaded: "
        f"the largest of the samples taken every {SAMPLE_EVERY_S:g} s while wrk sends "
        f"`GET {SEARCH}` with a bearer token over {GATEWAY_CONNECTIONS} connections for "
        f"{seconds:g} s, the fake provider at {LATENCY_MS} ms in its own process (not "
        "counted). The table shows each server's load; the memory figures are below.",
        sides=[
            Side("FastAPI alone (uvicorn, 1 process): the end state", fastapi.load),
            Side(f"Flask alone (gunicorn gthread, {threads} threads)", flask.load),
            Side("gateway (`figway serve`, 1 worker), search by the twin", gateway.load),
        ],
        goals=[
            Goal(
                "idle RSS, end state / Flask alone",
                ratio(fastapi.idle_rss, flask.idle_rss),
                GOAL,
                higher_is_better=False,
            ),
            Goal(
                "loaded RSS, end state / Flask alone",
                ratio(fastapi.loaded_rss, flask.loaded_rss),
                GOAL,
                higher_is_better=False,
            ),
        ],
        notes=[
            f"end state: idle {_mb(fastapi.idle_rss)}, under load {_mb(fastapi.loaded_rss)}, "
            f"after {_mb(fastapi.after_rss)}; Flask alone: idle {_mb(flask.idle_rss)}, under "
            f"load {_mb(flask.loaded_rss)}, after {_mb(flask.after_rss)} (RSS)",
            f"PSS (each shared page split between the processes sharing it, so gunicorn's "
            f"master and worker are not counted twice): end state idle "
            f"{_mb(fastapi.idle_pss)}, under load {_mb(fastapi.loaded_pss)}; Flask alone idle "
            f"{_mb(flask.idle_pss)}, under load {_mb(flask.loaded_pss)}; ratios "
            f"{ratio(fastapi.idle_pss, flask.idle_pss):.2f} idle, "
            f"{ratio(fastapi.loaded_pss, flask.loaded_pss):.2f} under load",
            f"the gateway of today (both apps in one process, each with its own database "
            f"pool): idle {_mb(gateway.idle_rss)}, under load {_mb(gateway.loaded_rss)}, "
            f"after {_mb(gateway.after_rss)} (RSS), PSS idle {_mb(gateway.idle_pss)}; "
            f"against Flask alone {ratio(gateway.idle_rss, flask.idle_rss):.2f} idle, "
            f"{ratio(gateway.loaded_rss, flask.loaded_rss):.2f} under load",
            "under the same offered load the FastAPI app has all "
            f"{GATEWAY_CONNECTIONS} requests in flight while gunicorn works on {threads} at "
            "a time and leaves the rest queued in the kernel",
        ],
    )


def _warm(url: str, auth: str) -> None:
    import httpx

    name, _, value = auth.partition(": ")
    httpx.get(url, headers={name: value}, timeout=15).raise_for_status()


def _settled(pid: int, settle: float) -> tuple[int, int]:
    threading.Event().wait(settle)
    return tree_memory_kb(pid)


class _Peak:
    """The largest RSS and PSS of a process tree, sampled in a thread while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.rss = 0
        self.pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            rss, pss = tree_memory_kb(self.pid)
            self.rss = max(self.rss, rss)
            self.pss = max(self.pss, pss)
            if self._stop.wait(SAMPLE_EVERY_S):
                return

    def __enter__(self) -> _Peak:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _mb(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"
