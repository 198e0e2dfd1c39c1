"""The gateway's own cost: the routing decision, and each side through it against alone."""

from __future__ import annotations

import random
import re
import shutil
import sys
import time
from pathlib import Path

from bench.harness import Load, base_env, figway, free_port, median, running, wrk
from bench.report import Goal, Scenario, Side
from gateway import changes as ops
from gateway import manifest as mf
from gateway.table import RouteTable
from tests.polling import wait_for

ROOT = Path(__file__).resolve().parent.parent
ROUTE = "GET /api/version"


def routing_decision(quick: bool) -> Scenario:
    """Microseconds per decide() over the full manifest, on a realistic request mix."""
    manifest = mf.load(ROOT / "migration_status.yaml")
    rng = random.Random(7)
    requests = [_concrete(rng.choice(manifest.entries), rng) for _ in range(20_000)]
    if quick:
        requests = requests[:2000]
    cold_table = RouteTable.from_manifest(manifest)
    started = time.perf_counter()
    for method, path in requests:
        cold_table.decide(method, path)
    cold_us = (time.perf_counter() - started) / len(requests) * 1e6
    started = time.perf_counter()
    for method, path in requests:
        cold_table.decide(method, path)
    warm_us = (time.perf_counter() - started) / len(requests) * 1e6
    uncached = RouteTable.from_manifest(manifest)
    started = time.perf_counter()
    for method, path in requests[:2000]:
        uncached._match(method, path)  # the rule match alone (gateway/rules.py), no cache
    match_us = (time.perf_counter() - started) / 2000 * 1e6
    return Scenario(
        "Routing decision",
        f"`RouteTable.decide()` over all {len(manifest.entries)} manifest routes, "
        f"{len(requests):,} requests with random ids (a fresh table, so the first pass "
        "includes every cache miss).",
        goals=[Goal("microseconds per decision, first pass", cold_us, 5.0, False)],
        notes=[
            f"second pass (cache warm): {warm_us:.2f} us; the rule match alone, "
            f"uncached: {match_us:.2f} us"
        ],
    )


def _concrete(entry: mf.Entry, rng: random.Random) -> tuple[str, str]:
    path = re.sub(r"<int:\w+>", lambda _m: str(rng.randint(1, 1_000_000)), entry.path)
    path = re.sub(r"<path:\w+>", "css/app.css", path)
    path = re.sub(r"<\w+>", lambda _m: f"key{rng.randint(1, 50)}", path)
    return entry.method, path


def through_the_gateway(workdir: Path, quick: bool, threads: int) -> list[Scenario]:
    """A FastAPI route via the gateway vs the FastAPI app alone; a Flask route via the
    gateway vs gunicorn with the same threads. Rounds alternate A and B so drift in the
    machine's load hits both sides alike; the medians are compared."""
    manifest = workdir / "migration_status.yaml"
    shutil.copy(ROOT / "migration_status.yaml", manifest)
    env = base_env(workdir, FIGWAY_MANIFEST=str(manifest), FIGWAY_LEGACY_THREADS=str(threads))
    figway("db", "upgrade", env=env)
    rounds, seconds, conns = (1, 2, 16) if quick else (3, 8, 64)
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    ports = {name: free_port() for name in ("gateway", "fastapi", "gunicorn")}
    python = sys.executable
    with (
        running(
            [python, "-m", "gateway.cli", "serve", "--port", str(ports["gateway"])],
            env,
            ports["gateway"],
            logs / "gateway.log",
        ) as gw,
        running(
            [
                python,
                "-m",
                "uvicorn",
                "--factory",
                "bench.apps:bare_fastapi",
                "--port",
                str(ports["fastapi"]),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env,
            ports["fastapi"],
            logs / "fastapi.log",
        ) as bare,
        running(
            [
                python,
                "-m",
                "gunicorn",
                "-k",
                "gthread",
                "-w",
                "1",
                "--threads",
                str(threads),
                "-b",
                f"127.0.0.1:{ports['gunicorn']}",
                "--log-level",
                "warning",
                "bench.apps:legacy_wsgi()",
            ],
            env,
            ports["gunicorn"],
            logs / "gunicorn.log",
        ) as gunicorn,
    ):
        ops.apply(manifest, ops.plan_flip(ROUTE, "fastapi"), twins=None)
        _wait_owner(gw, "fastapi")
        modern = _alternate(bare, gw, rounds, seconds, conns)
        ops.apply(manifest, ops.plan_flip(ROUTE, "flask"), twins=None)
        _wait_owner(gw, "flask")
        legacy = _alternate(gunicorn, gw, rounds, seconds, conns)
    return [
        _compare(
            "FastAPI route through the gateway",
            modern,
            "FastAPI app alone (uvicorn)",
            "gateway, route owned by fastapi",
            0.95,
            conns,
            seconds,
            rounds,
        ),
        _compare(
            "Flask route through the gateway",
            legacy,
            f"Flask app alone (gunicorn gthread, {threads} threads)",
            f"gateway, route owned by flask (a2wsgi, {threads} threads)",
            0.90,
            conns,
            seconds,
            rounds,
        ),
    ]


def _wait_owner(url: str, owner: str) -> None:
    import httpx

    wait_for(
        lambda: httpx.get(url + "/api/version").headers.get("x-served-by") == owner,
        timeout=5,
        interval=0.05,
    )


def _alternate(
    alone: str, gateway: str, rounds: int, seconds: float, conns: int
) -> tuple[list[Load], list[Load]]:
    a: list[Load] = []
    b: list[Load] = []
    for _ in range(rounds):
        a.append(wrk(alone + "/api/version", connections=conns, seconds=seconds))
        b.append(wrk(gateway + "/api/version", connections=conns, seconds=seconds))
    return a, b


def _best(loads: list[Load]) -> Load:
    """The median round by throughput (its latencies come with it)."""
    target = median([x.requests_per_s for x in loads])
    return min(loads, key=lambda x: abs(x.requests_per_s - target))


def _compare(
    name: str,
    pair: tuple[list[Load], list[Load]],
    label_a: str,
    label_b: str,
    goal: float,
    conns: int,
    seconds: float,
    rounds: int,
) -> Scenario:
    alone, via = pair
    ratio = median([x.requests_per_s for x in via]) / median([x.requests_per_s for x in alone])
    return Scenario(
        name,
        f"`{ROUTE}`, wrk with {conns} connections, {rounds} alternating round(s) of "
        f"{seconds:g} s per side; the median round of each side is shown.",
        sides=[Side(label_a, _best(alone)), Side(label_b, _best(via))],
        goals=[Goal("throughput, gateway / alone", ratio, goal)],
        notes=[
            f"rounds, req/s alone: {', '.join(f'{x.requests_per_s:,.0f}' for x in alone)};"
            f" via the gateway: {', '.join(f'{x.requests_per_s:,.0f}' for x in via)}"
        ],
    )
