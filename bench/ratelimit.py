"""What a rate limit costs: the hello-world route's CPU per request with a limit counted in
memory (and in Redis, when FIGWAY_BENCH_REDIS_URL answers) against no limit, in one run.

Each side is its own `figway serve` (the same workers, the same manifest with the route
owned by fastapi); the limited ones get it from FIGWAY_RATE_LIMIT_DEFAULT, a limit far
above what the run sends, so every request is counted and none refused. Rounds rotate
the order of the sides, so drift in the machine's load hits them alike; CPU per request
is the CPU time of the server's processes (from /proc) over the requests wrk counted. The
limiter's own cost is also timed in-process: the servers' figures move by a few percent
from run to run, more than the limit in memory costs.
"""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack
from pathlib import Path

from bench.harness import (
    WORKERS,
    Load,
    base_env,
    figway,
    median,
    rotating_cpu_rounds,
    serve_figway,
)
from bench.report import Goal, Scenario, Side
from gateway import changes as ops
from tests.servers import redis_prefix

ROOT = Path(__file__).resolve().parent.parent
HELLO = "GET /api/version"
CONNECTIONS = 64
LIMIT = "1000000000/minute"  # counted on every request, never reached
GOAL = 1.05  # the issue's: a limit costs under 5% of the hello-world route's CPU
REDIS_ENV = "FIGWAY_BENCH_REDIS_URL"


def rate_limit_cost(workdir: Path, quick: bool) -> Scenario:
    work = workdir / "ratelimit"
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "migration_status.yaml"
    shutil.copy(ROOT / "migration_status.yaml", manifest)
    ops.apply(manifest, ops.plan_flip(HELLO, "fastapi"), twins=None)
    env = base_env(work, FIGWAY_MANIFEST=str(manifest))
    figway("db", "upgrade", env=env)
    rounds, seconds = (1, 1.0) if quick else (3, 5.0)
    sides = {"no limit": env, "limit in memory": {**env, "FIGWAY_RATE_LIMIT_DEFAULT": LIMIT}}
    with ExitStack() as stack:
        redis_url = _redis(stack)
        if redis_url is not None:
            sides["limit in Redis"] = {
                **env,
                "FIGWAY_RATE_LIMIT_DEFAULT": LIMIT,
                "REDIS_URL": redis_url,
                "FIGWAY_RATE_LIMIT_PREFIX": stack.enter_context(redis_prefix(redis_url, "bench")),
            }
        servers = {
            name: stack.enter_context(serve_figway(side_env, work / "logs" / f"{i}.log"))
            for i, (name, side_env) in enumerate(sides.items())
        }
        measured = rotating_cpu_rounds(servers, "/api/version", CONNECTIONS, rounds, seconds)
    return _report(measured, rounds, seconds, redis_url is not None, _limiter_us())


def _limiter_us(calls: int = 50_000) -> float:
    """Microseconds one limited request spends in the limiter (memory), in this process:
    the cost itself, without the noise of two servers' CPU figures around it."""
    import asyncio
    import time

    from gateway.ratelimit import RateLimiter, RouteLimit, parse_limit
    from shared.config import Settings

    # Memory whatever the environment says; a key, so none is made on disk.
    limiter = RateLimiter(Settings(_env_file=None, redis_url=None, secret_key="bench-only"))
    limit = RouteLimit(f"route:{HELLO}", parse_limit(LIMIT), LIMIT)
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    scope = {"type": "http", "client": ("127.0.0.1", 50000), "headers": headers}

    async def run() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await limiter.retry_after(limit, scope)
        spent = time.perf_counter() - started
        await limiter.close()
        return spent

    return asyncio.run(run()) / calls * 1e6


def _redis(stack: ExitStack) -> str | None:
    """The bench's Redis, when it is set and answers."""
    url = os.environ.get(REDIS_ENV, "").strip()
    if not url:
        return None
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    stack.callback(client.close)
    try:
        client.ping()
    except redis.RedisError as exc:
        print(f"bench: no Redis at {url} ({type(exc).__name__}); memory only")
        return None
    return url


def _report(
    measured: dict[str, list[tuple[Load, float]]],
    rounds: int,
    seconds: float,
    redis: bool,
    limiter_us: float,
) -> Scenario:
    cpu = {name: median([ms for _, ms in found]) for name, found in measured.items()}
    base = max(cpu["no limit"], 1e-9)

    def side(name: str) -> Side:
        target = cpu[name]
        load = min(measured[name], key=lambda found: abs(found[1] - target))[0]
        return Side(name, load, (f"{target:.3f}", f"{target / base:.3f}"))

    notes = [
        "rounds, CPU ms per request: "
        + "; ".join(
            f"{name} " + ", ".join(f"{ms:.3f}" for _, ms in found)
            for name, found in measured.items()
        ),
        f"the limiter alone, in memory, timed in-process: {limiter_us:.1f} us per request, "
        f"{limiter_us / 10 / base:.1f}% of the hello-world route's CPU without a limit (the "
        "servers' figures move by a few percent from run to run)",
        "each process counts in its own memory (workers do not share a count); Redis is "
        "the count every process and host shares: one round trip per request",
    ]
    if not redis:
        notes.append(f"no Redis side: {REDIS_ENV} unset or not answering")
    goals = [
        Goal(
            "limit in memory: CPU per request / no limit's",
            cpu["limit in memory"] / base,
            GOAL,
            higher_is_better=False,
        )
    ]
    return Scenario(
        "Rate limit cost on the hello-world route",
        f"`{HELLO}` owned by fastapi through `figway serve --workers {WORKERS}`, without a "
        f"limit and with `{LIMIT}` (every request counted, none refused); wrk with "
        f"{CONNECTIONS} connections, {rounds} round(s) of {seconds:g} s per side (the order "
        "rotating); the round with the median CPU per request is shown. Columns after the "
        "errors: CPU per request, and as a multiple of the side without a limit.",
        sides=[side(name) for name in measured],
        goals=goals,
        notes=notes,
        extra_columns=("CPU ms/req", "x no limit"),
    )
