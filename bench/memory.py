"""Memory: what the gateway holds, idle and under the I/O-bound search load, against the
Flask app alone under gunicorn serving the same route to the same load.

Memory is read from /proc over each server's whole process tree (gunicorn's master and
its worker; uvicorn with one worker is one process), never from inside the servers. The
FastAPI app alone is measured the same way, for where the migration ends.
"""

from __future__ import annotations

import shutil
import sys
import threading
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
# The owners' plan: "Memory Efficiency: 30% reduction in baseline usage".
GOAL = 0.7
SAMPLE_EVERY_S = 0.2


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
        # Where the migration ends: the FastAPI app alone, once Flask is removed.
        with running(
            [
                python,
                *("-m", "uvicorn", "--factory", "bench.apps:bare_fastapi"),
                *("--port", str(ports["uvicorn"]), "--no-access-log", "--log-level", "warning"),
            ],
            env,
            ports["uvicorn"],
            logs / "fastapi.log",
        ) as uvicorn:
            fastapi = measure(uvicorn, uvicorn.pid, None)
    idle_ratio = gateway.idle_rss / max(flask.idle_rss, 1)
    loaded_ratio = gateway.loaded_rss / max(flask.loaded_rss, 1)
    return Scenario(
        "Memory: the gateway against Flask alone",
        f"Resident memory (RSS from /proc, summed over the server's process tree) of "
        f"`figway serve --workers 1` (the search owned by the FastAPI twin, the Flask app "
        f"mounted beside it) and of the Flask app alone under gunicorn (gthread, 1 worker, "
        f"{threads} threads: its master and its worker), one after the other on {database}; "
        "then, for where the migration ends, the FastAPI app alone under uvicorn. "
        f"Idle: after one search request (so that imports made on first use count), "
        f"{settle:g} s later. Loaded: the largest of the samples taken every "
        f"{SAMPLE_EVERY_S:g} s while wrk sends `GET {SEARCH}` with a bearer token over "
        f"{GATEWAY_CONNECTIONS} connections for {seconds:g} s, the fake provider at "
        f"{LATENCY_MS} ms in its own process (not counted). The table shows each server's "
        "load; the memory figures are below.",
        sides=[
            Side("gateway (`figway serve`, 1 worker), search by the twin", gateway.load),
            Side(f"Flask alone (gunicorn gthread, {threads} threads)", flask.load),
            Side("FastAPI alone (uvicorn, 1 process): the end state", fastapi.load),
        ],
        goals=[
            Goal("idle RSS, gateway / Flask alone", idle_ratio, GOAL, higher_is_better=False),
            Goal("loaded RSS, gateway / Flask alone", loaded_ratio, GOAL, higher_is_better=False),
        ],
        notes=[
            f"gateway: idle {_mb(gateway.idle_rss)}, under load {_mb(gateway.loaded_rss)}, "
            f"after {_mb(gateway.after_rss)}; Flask alone: idle {_mb(flask.idle_rss)}, under "
            f"load {_mb(flask.loaded_rss)}, after {_mb(flask.after_rss)} (RSS)",
            f"PSS (each shared page split between the processes sharing it, so gunicorn's "
            f"master and worker are not counted twice): gateway idle {_mb(gateway.idle_pss)}, "
            f"under load {_mb(gateway.loaded_pss)}; Flask alone idle {_mb(flask.idle_pss)}, "
            f"under load {_mb(flask.loaded_pss)}; ratios "
            f"{gateway.idle_pss / max(flask.idle_pss, 1):.2f} idle, "
            f"{gateway.loaded_pss / max(flask.loaded_pss, 1):.2f} under load",
            f"FastAPI alone (the end state, Flask removed): idle {_mb(fastapi.idle_rss)}, "
            f"under load {_mb(fastapi.loaded_rss)}, after {_mb(fastapi.after_rss)} (RSS); "
            f"against Flask alone {fastapi.idle_rss / max(flask.idle_rss, 1):.2f} idle, "
            f"{fastapi.loaded_rss / max(flask.loaded_rss, 1):.2f} under load",
            "the gateway holds both apps in one process (the twin and the mounted Flask app, "
            "each with its own database pool), so its baseline includes Flask's; under the "
            "same offered load the twin has all "
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
