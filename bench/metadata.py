"""Calls to the metadata provider: which async client stack to use, and the search twin
under load against its Flask original.

Both scenarios talk to `figway fake-provider --latency-ms 100` in its own process: every
call waits 100 ms there, on its event loop, so what is measured is how many slow calls
the client side keeps in flight, not how fast the provider computes.

`python -m bench.metadata client ...` is the client loop of the first scenario; the
benchmark runs it in a fresh subprocess per stack (see `_client_main`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import profile
from bench.harness import (
    PROVIDER_SEARCH,
    QUERY,
    WORKERS,
    Load,
    base_env,
    figway,
    free_port,
    median,
    running,
    running_provider,
    wrk,
)
from bench.harness import bench_database as _bench_database
from bench.harness import create_user as _create_user
from bench.harness import setting as _setting
from bench.harness import token as _token
from bench.harness import tree_cpu_s as _tree_cpu_s
from bench.harness import wait_owner as _wait_owner
from bench.report import Goal, Scenario, Side
from gateway import changes as ops

ROOT = Path(__file__).resolve().parent.parent
LATENCY_MS = 100
ROUTE = "GET /api/metadata/search"
ME_ROUTE = "GET /api/auth/me"
SEARCH = f"/api/metadata/search?q={QUERY}"
CLIENT_TASKS = 200
GATEWAY_CONNECTIONS = 500
# The owners' target for the twin: at 500 clients, at least this many answers per second.
TWIN_TARGET_PER_S = 1000.0
# The owners' plan: "25-50x concurrent capacity", against the legacy app as it runs (the
# default threads); and against a legacy tuned as far as threads go, for the record.
RATIO_GOAL = 25.0
TUNED_THREADS = 64
P99_GOAL_MS = 300.0
HELLO = "/api/version"

# The stacks, by the name the client loop takes, with how the report describes them.
STACKS: dict[str, str] = {
    "httpx": "plain `httpx.AsyncClient` (limits: 200 connections)",
    "httpx-aiohttp": "`httpx.AsyncClient` over `httpx_aiohttp.AiohttpTransport`",
    "aiohttp": "raw `aiohttp.ClientSession`",
    "AsyncMetadataClient": "`AsyncMetadataClient.search_artists()` (aiohttp, plus "
    "retries, the concurrency bound and parsing)",
}


# --- scenario 1: the client stacks ----------------------------------------------------


def client_stacks(workdir: Path, quick: bool) -> Scenario:
    """Calls/s per client stack, 200 concurrent tasks against the 100 ms provider.

    Each stack runs in a fresh interpreter (no pool or loop state carried over, and the
    provider keeps its own process and core share); the stacks take turns, round after
    round, so drift in the machine's load hits them alike, and the medians are compared.
    """
    rounds, seconds = (1, 2.0) if quick else (3, 8.0)
    env = base_env(workdir)
    port = free_port()
    logs = workdir / "logs"
    results: dict[str, list[_Calls]] = {name: [] for name in STACKS}
    with running(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "fake-provider",
            "--port",
            str(port),
            "--latency-ms",
            str(LATENCY_MS),
        ],
        env,
        port,
        logs / "provider-clients.log",
        ready_path=PROVIDER_SEARCH,
    ) as provider:
        for _ in range(rounds):
            for name in STACKS:
                results[name].append(_run_client(name, provider, seconds, env))
    per_s = {name: median([x.load.ok_per_s for x in runs]) for name, runs in results.items()}
    ratio = per_s["AsyncMetadataClient"] / max(per_s["httpx"], 1e-9)
    transport_ratio = per_s["httpx-aiohttp"] / max(per_s["httpx"], 1e-9)
    ceiling = CLIENT_TASKS * 1000 / LATENCY_MS
    return Scenario(
        "Metadata client stacks",
        f"{CLIENT_TASKS} concurrent tasks calling the fake provider (`figway fake-provider "
        f"--latency-ms {LATENCY_MS}`, its own process) for {seconds:g} s after one warm-up "
        f"call each; every stack in a fresh subprocess on uvloop (as under uvicorn), "
        f"{rounds} alternating round(s), the median round shown. The ceiling is "
        f"{ceiling:,.0f} calls/s ({CLIENT_TASKS} calls every {LATENCY_MS} ms). "
        "Columns: calls/s, per-call latency, failed calls.",
        sides=[Side(f"{name}: {STACKS[name]}", _median(results[name]).load) for name in STACKS],
        # The claim in AsyncMetadataClient's docstring: plain httpx holds a small fraction.
        goals=[Goal("calls/s, AsyncMetadataClient / plain httpx", ratio, 10.0)],
        notes=[
            f"httpx over the aiohttp transport / plain httpx, same calling code: "
            f"{transport_ratio:.3g}",
            *(
                f"rounds, calls/s, {name}: "
                + ", ".join(f"{x.load.ok_per_s:,.0f}" for x in results[name])
                + "; client CPU per call: "
                + ", ".join(f"{x.cpu_ms_per_call:.2f} ms" for x in results[name])
                for name in STACKS
            ),
            "This is why AsyncMetadataClient (shared/clients/metadata.py) is built on aiohttp: "
            "with hundreds of calls in flight, plain httpx's own pool is the bottleneck, not "
            "the provider; httpx over the aiohttp transport fixes that, but costs several "
            "times aiohttp's CPU per call, and the search twin is CPU-bound at 500 clients.",
        ],
    )


@dataclass
class _Calls:
    load: Load
    cpu_ms_per_call: float


def _median(runs: list[_Calls]) -> _Calls:
    """The median round by calls/s (its latencies come with it)."""
    target = median([x.load.ok_per_s for x in runs])
    return min(runs, key=lambda x: abs(x.load.ok_per_s - target))


def _run_client(stack: str, provider: str, seconds: float, env: dict[str, str]) -> _Calls:
    """One stack's client loop in a fresh interpreter; its one JSON line, as a Load."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.metadata",
            "client",
            "--stack",
            stack,
            "--base-url",
            provider,
            "--tasks",
            str(CLIENT_TASKS),
            "--seconds",
            str(seconds),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"client {stack} failed:\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    load = Load(
        requests_per_s=data["calls_per_s"],
        p50_ms=data["p50_ms"],
        p99_ms=data["p99_ms"],
        requests=data["calls"],  # successful calls only: failures are in errors
        errors=data["errors"],
    )
    return _Calls(load, data["cpu_ms_per_call"])


# --- the client loop, in its own process --------------------------------------------------

Call = Callable[[], Awaitable[None]]


@dataclass
class _Tally:
    latencies_ms: list[float]
    errors: int = 0


async def _drive(call: Call, tasks: int, seconds: float) -> dict[str, float]:
    """`tasks` loops calling `call` back to back until the deadline; one untimed warm-up
    call each first, so connection set-up is not what gets measured."""
    await asyncio.gather(*(call() for _ in range(tasks)), return_exceptions=True)
    tally = _Tally([])
    cpu_started = time.process_time()
    started = time.perf_counter()
    deadline = started + seconds

    async def loop() -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                await call()
            except Exception:  # any failure counts; the loop goes on, as a server would
                tally.errors += 1
            else:
                tally.latencies_ms.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(loop() for _ in range(tasks)))
    elapsed = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    ordered = sorted(tally.latencies_ms) or [0.0]
    return {
        "calls": len(tally.latencies_ms),
        "errors": tally.errors,
        "seconds": elapsed,
        "calls_per_s": len(tally.latencies_ms) / elapsed,
        # CPU the client process spent per call (all its threads): with 2 cores shared by
        # client and provider, CPU per call is what caps calls/s.
        "cpu_ms_per_call": cpu_s * 1000 / max(1, len(tally.latencies_ms) + tally.errors),
        "p50_ms": ordered[len(ordered) // 2],
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


async def _run_stack(stack: str, base_url: str, tasks: int, seconds: float) -> dict[str, float]:
    url = base_url.rstrip("/") + PROVIDER_SEARCH
    timeout = 10.0  # the settings' default metadata timeout
    if stack in ("httpx", "httpx-aiohttp"):
        from httpx_aiohttp import AiohttpTransport

        limits = httpx.Limits(max_connections=tasks, max_keepalive_connections=tasks)
        transport = AiohttpTransport(limits=limits) if stack == "httpx-aiohttp" else None
        async with httpx.AsyncClient(
            limits=limits, timeout=httpx.Timeout(timeout), transport=transport
        ) as client:

            async def call() -> None:
                response = await client.get(url)
                response.raise_for_status()
                json.loads(response.content)

            return await _drive(call, tasks, seconds)
    if stack == "AsyncMetadataClient":
        from shared.clients.metadata import AsyncMetadataClient
        from shared.config import Settings

        # Built as fastapi_app/state.py builds it, so the production bound applies.
        metadata = AsyncMetadataClient(
            base_url,
            timeout,
            max_concurrency=Settings.model_fields["metadata_max_concurrency"].default,
        )

        async def search() -> None:
            await metadata.search_artists(QUERY)

        try:
            return await _drive(search, tasks, seconds)
        finally:
            await metadata.aclose()
    if stack == "aiohttp":
        import aiohttp

        connector = aiohttp.TCPConnector(limit=tasks)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as session:

            async def raw() -> None:
                async with session.get(url) as response:
                    response.raise_for_status()
                    json.loads(await response.read())

            return await _drive(raw, tasks, seconds)
    raise SystemExit(f"unknown stack {stack!r}: one of {', '.join(STACKS)}")


def _client_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.metadata")
    sub = parser.add_subparsers(dest="command", required=True)
    client = sub.add_parser("client", help="one stack's client loop; prints one JSON line")
    client.add_argument("--stack", choices=list(STACKS), required=True)
    client.add_argument("--base-url", required=True)
    client.add_argument("--tasks", type=int, default=CLIENT_TASKS)
    client.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    import uvloop

    # uvicorn serves the app on uvloop when it is installed (it is: uvicorn[standard]),
    # so the client under test runs on the loop it meets in production.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(_run_stack(args.stack, args.base_url, args.tasks, args.seconds))
    print(json.dumps(result))
    return 0


# --- scenario 2: the search twin under load ---------------------------------------------


def search_twin(workdir: Path, quick: bool) -> Scenario:
    with _bench_database(workdir / "search-twin") as (url, database):
        return _search_twin(workdir, quick, url, database)


def _search_twin(workdir: Path, quick: bool, database_url: str, database: str) -> Scenario:
    """`GET /api/metadata/search` at 500 clients, the provider at 100 ms: the route owned
    by the FastAPI twin and by Flask at the default legacy threads, in one gateway, and by
    Flask with 64 threads per worker (the tuned legacy) in a second one; the three take
    turns, round after round.

    Besides wrk's figures, the CPU time the gateways (all workers) and the provider spent
    in each round (from /proc): once the provider's latency no longer bounds the twin, its
    CPU per request does. For scale, in the same run: the provider alone, the physical
    limit (connections / latency), and the gateway's own hello-world ceiling.
    """
    rounds, seconds = (1, 3.0) if quick else (3, 8.0)
    work = workdir / "search-twin"
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "migration_status.yaml"
    shutil.copy(ROOT / "migration_status.yaml", manifest)
    # The tuned legacy's gateway: its own manifest, the route owned by Flask throughout.
    tuned_manifest = work / "tuned" / "migration_status.yaml"
    tuned_manifest.parent.mkdir()
    shutil.copy(manifest, tuned_manifest)
    ops.apply(tuned_manifest, ops.plan_flip(ROUTE, "flask"), twins=None)
    logs = work / "logs"
    ports = {"provider": free_port(), "gateway": free_port(), "tuned": free_port()}
    env = base_env(
        work,
        FIGWAY_MANIFEST=str(manifest),
        METADATA_BASE_URL=f"http://127.0.0.1:{ports['provider']}",
        DATABASE_URL=database_url,
    )
    tuned_env = {
        **env,
        "FIGWAY_MANIFEST": str(tuned_manifest),
        "FIGWAY_LEGACY_THREADS": str(TUNED_THREADS),
    }
    figway("db", "upgrade", env=env)
    _create_user(env["DATABASE_URL"])
    python = sys.executable

    def serve(port: int) -> list[str]:
        return [
            python,
            "-m",
            "gateway.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
        ]

    with (
        running_provider(ports["provider"], LATENCY_MS, env, logs / "provider.log") as provider,
        running(serve(ports["gateway"]), env, ports["gateway"], logs / "gateway.log") as gw,
        running(serve(ports["tuned"]), tuned_env, ports["tuned"], logs / "tuned.log") as tuned,
    ):
        auth = f"Authorization: Bearer {_token(gw)}"

        def load(url: str, gateway: int, headers: tuple[str, ...] = (auth,)) -> _Round:
            pids = (gateway, provider.pid)
            before = [_tree_cpu_s(pid) for pid in pids]
            result = wrk(url, connections=GATEWAY_CONNECTIONS, seconds=seconds, headers=headers)
            spent = [_tree_cpu_s(pid) - b for pid, b in zip(pids, before, strict=True)]
            return _Round(result, gateway_cpu_s=spent[0], provider_cpu_s=spent[1])

        # The provider alone, the same way: what the gateway could at best pass on.
        alone = load(provider + PROVIDER_SEARCH, provider.pid, headers=())
        # The gateway's own ceiling: its lightest FastAPI route (no database, no provider).
        ceiling = load(gw + HELLO, gw.pid, headers=())
        # The bearer lookup without the provider call (the twin of /api/auth/me: the same
        # auth dependency and database session): to split the twin's CPU per request.
        ops.apply(manifest, ops.plan_flip(ME_ROUTE, "fastapi"), twins=None)
        _wait_owner(gw + "/api/auth/me", auth, "fastapi")
        me = load(gw + "/api/auth/me", gw.pid)
        sides: dict[str, list[_Round]] = {"twin": [], "flask": [], "tuned": []}
        for _ in range(rounds):
            for owner, done in (("fastapi", sides["twin"]), ("flask", sides["flask"])):
                ops.apply(manifest, ops.plan_flip(ROUTE, owner), twins=None)
                _wait_owner(gw + SEARCH, auth, owner)
                done.append(load(gw + SEARCH, gw.pid))
                # Let the legacy side drain its queue before the next round starts.
                _wait_owner(gw + SEARCH, auth, owner)
            sides["tuned"].append(load(tuned + SEARCH, tuned.pid))
            _wait_owner(tuned + SEARCH, auth, "flask")
        ok = {name: median([x.load.ok_per_s for x in done]) for name, done in sides.items()}
        twin = _best(sides["twin"])
        ratio = ok["twin"] / max(ok["flask"], 1e-9)
        goals = [
            Goal(
                f"successful req/s, twin / flask at the default {_setting('legacy_threads')} "
                "threads per worker",
                ratio,
                RATIO_GOAL,
            ),
            Goal("twin p99 ms", twin.load.p99_ms, P99_GOAL_MS, higher_is_better=False),
            Goal("twin errors", twin.load.errors, 0, higher_is_better=False),
            Goal(
                f"twin, successful req/s at {GATEWAY_CONNECTIONS} clients",
                ok["twin"],
                TWIN_TARGET_PER_S,
            ),
        ]
        profiled = ""
        if not quick and not all(goal.met for goal in goals):
            ops.apply(manifest, ops.plan_flip(ROUTE, "fastapi"), twins=None)
            _wait_owner(gw + SEARCH, auth, "fastapi")
            profiled = profile.under_load(
                "search-fastapi",
                gw.pid,
                gw + SEARCH,
                connections=GATEWAY_CONNECTIONS,
                headers=(auth,),
                what="the twin",
            )
    return _search_report(
        rounds=rounds,
        seconds=seconds,
        database=database,
        sides=sides,
        ok=ok,
        scale={"provider": alone, "ceiling": ceiling, "me": me},
        goals=goals,
        profiled=profiled,
    )


def _search_report(
    *,
    rounds: int,
    seconds: float,
    database: str,
    sides: dict[str, list[_Round]],
    ok: dict[str, float],
    scale: dict[str, _Round],
    goals: list[Goal],
    profiled: str,
) -> Scenario:
    threads = _setting("legacy_threads")
    queue = _setting("legacy_queue")
    physical = GATEWAY_CONNECTIONS * 1000 / LATENCY_MS
    hello = scale["ceiling"].load.ok_per_s
    twin_limit = WORKERS * _setting("metadata_max_concurrency") * 1000 / LATENCY_MS

    def per_round(name: str, figure: Callable[[_Round], str]) -> str:
        return ", ".join(figure(x) for x in sides[name])

    notes = [
        f"successful req/s, twin / tuned flask ({TUNED_THREADS} threads per worker): "
        f"{ok['twin'] / max(ok['tuned'], 1e-9):.2f}",
        f"twin as a fraction of the physical limit ({GATEWAY_CONNECTIONS} connections / "
        f"{LATENCY_MS} ms = {physical:,.0f} req/s): {ok['twin'] / physical:.2f}; of the "
        f"gateway's hello-world ceiling in this run ({hello:,.0f} req/s): "
        f"{ok['twin'] / max(hello, 1e-9):.2f}",
        "rounds, successful req/s, twin: "
        + per_round("twin", lambda x: f"{x.load.ok_per_s:,.0f}")
        + f"; flask ({threads} threads): "
        + per_round("flask", lambda x: f"{x.load.ok_per_s:,.0f}")
        + f"; flask ({TUNED_THREADS} threads): "
        + per_round("tuned", lambda x: f"{x.load.ok_per_s:,.0f}"),
        "errors per round, twin: "
        + per_round("twin", lambda x: str(x.load.errors))
        + "; flask: "
        + per_round("flask", lambda x: str(x.load.errors))
        + "; tuned flask: "
        + per_round("tuned", lambda x: str(x.load.errors))
        + " (flask's are the gateway's 503s for a full legacy queue, by design)",
        "gateway CPU per request (ms, all workers, all answers counted): twin "
        + per_round("twin", lambda x: f"{x.gateway_ms_per_request:.2f}")
        + f"; /api/auth/me {scale['me'].gateway_ms_per_request:.2f}; hello world "
        f"{scale['ceiling'].gateway_ms_per_request:.2f}; gateway CPU in use (cores): twin "
        + per_round("twin", lambda x: f"{x.gateway_cores(seconds):.2f}")
        + "; flask "
        + per_round("flask", lambda x: f"{x.gateway_cores(seconds):.2f}")
        + "; tuned flask "
        + per_round("tuned", lambda x: f"{x.gateway_cores(seconds):.2f}")
        + "; the provider spent "
        f"{median([x.provider_ms_per_request for x in sides['twin']]):.2f} ms per call",
        f"the flask side's ceiling is {WORKERS} x {threads} threads / {LATENCY_MS} ms = "
        f"{WORKERS * threads * 1000 / LATENCY_MS:,.0f} req/s ({WORKERS} x {TUNED_THREADS} "
        f"threads: {WORKERS * TUNED_THREADS * 1000 / LATENCY_MS:,.0f}); the twin's is the "
        f"physical limit, {physical:,.0f} req/s, below {WORKERS} x "
        f"FIGWAY_METADATA_CONCURRENCY / {LATENCY_MS} ms = {twin_limit:,.0f}, before CPU: "
        "the gateway, the provider, the database and wrk share the machine's cores",
    ]
    if profiled:
        notes.append(profiled)
    return Scenario(
        "Metadata search twin under load",
        f"`GET {SEARCH}` with a bearer token through `figway serve --workers {WORKERS}` (one "
        f"worker per core, {database}, default settings otherwise), wrk with "
        f"{GATEWAY_CONNECTIONS} connections and a 10 s timeout, the fake provider at "
        f"{LATENCY_MS} ms in its own process; {rounds} round(s) of {seconds:g} s, in turn: "
        "the route owned by fastapi (the async twin), by flask (a2wsgi, "
        f"{threads} threads per worker, queue {queue}: past that the gateway answers 503 at "
        f"once), and by flask in a second gateway with {TUNED_THREADS} threads per worker "
        "(the tuned legacy); the median round of each side is shown. Errors are non-2xx "
        "answers plus socket errors; the 2xx/s column counts successful answers only. For "
        f"scale, one round each: the provider alone, `GET {HELLO}` owned by fastapi (the "
        "gateway's hello-world ceiling: no database, no provider), and `GET /api/auth/me` "
        "(the same bearer lookup, no provider call) owned by fastapi.",
        sides=[
            Side(f"fake provider alone ({LATENCY_MS} ms)", scale["provider"].load),
            Side(f"gateway, GET {HELLO} owned by fastapi (hello world)", scale["ceiling"].load),
            Side(
                "gateway, GET /api/auth/me owned by fastapi (bearer lookup only)", scale["me"].load
            ),
            Side("gateway, search owned by fastapi (the twin)", _best(sides["twin"]).load),
            Side(
                f"gateway, search owned by flask ({WORKERS} x {threads} threads)",
                _best(sides["flask"]).load,
            ),
            Side(
                f"gateway, search owned by flask, tuned ({WORKERS} x {TUNED_THREADS} threads)",
                _best(sides["tuned"]).load,
            ),
        ],
        goals=goals,
        notes=notes,
        ok_column=True,
    )


@dataclass
class _Round:
    load: Load
    gateway_cpu_s: float
    provider_cpu_s: float

    @property
    def gateway_ms_per_request(self) -> float:
        return self.gateway_cpu_s * 1000 / max(1, self.load.requests)

    @property
    def provider_ms_per_request(self) -> float:
        return self.provider_cpu_s * 1000 / max(1, self.load.requests)

    def gateway_cores(self, seconds: float) -> float:
        return self.gateway_cpu_s / seconds


def _best(rounds: list[_Round]) -> _Round:
    """The median round by successful throughput (its latencies come with it)."""
    target = median([x.load.ok_per_s for x in rounds])
    return min(rounds, key=lambda x: abs(x.load.ok_per_s - target))


if __name__ == "__main__":
    raise SystemExit(_client_main(sys.argv[1:]))
