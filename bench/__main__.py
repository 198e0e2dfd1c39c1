"""`python -m bench [--quick] [--only NAME ...]`: run the scenarios, write
bench/results/latest.md (all of them) or only-<names>.md (some)."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import (
    capacity,
    cpu,
    database,
    gateway,
    jobs,
    memory,
    metadata,
    ratelimit,
    shadow,
    tracing,
)
from bench.harness import require_wrk
from bench.report import Scenario, charts, render

RESULTS = Path(__file__).resolve().parent / "results"

# A step: its progress line, and what it runs given (workdir, quick, threads).
Step = tuple[str, Callable[[Path, bool, int], list[Scenario]]]
STEPS: dict[str, Step] = {
    "routing": ("routing decision", lambda _w, q, _t: [gateway.routing_decision(q)]),
    "gateway": (
        "gateway against each app alone (FastAPI under uvicorn, Flask under gunicorn)",
        gateway.through_the_gateway,
    ),
    "clients": (
        "metadata client stacks: plain httpx, httpx over aiohttp, raw aiohttp",
        lambda w, q, _t: [metadata.client_stacks(w, q)],
    ),
    "search": (
        "metadata search at 500 clients: the FastAPI twin against the Flask route",
        lambda w, q, _t: [metadata.search_twin(w, q)],
    ),
    "capacity": (
        "capacity: clients held on the search route, flask, the twin and the ceiling",
        lambda w, q, _t: [capacity.capacity(w, q)],
    ),
    "cpu": (
        "CPU per request: each twin against its Flask original and the hello-world route",
        lambda w, q, _t: [cpu.cpu_per_request(w, q)],
    ),
    "ratelimit": (
        "rate limit cost: the hello-world route's CPU per request, a limit on against off",
        lambda w, q, _t: [ratelimit.rate_limit_cost(w, q)],
    ),
    "tracing": (
        "tracing cost: the hello-world route's CPU per request, tracing off against on (OTLP)",
        lambda w, q, _t: [tracing.tracing_cost(w, q)],
    ),
    "shadow": (
        "shadow traffic: the owner's p99 and CPU per request, 20% or 100% replayed, or none",
        lambda w, q, _t: [shadow.shadow_cost(w, q)],
    ),
    "database": (
        "database-bound: the video list on 10,000 videos, the FastAPI twin against Flask",
        lambda w, q, _t: [database.database_bound(w, q)],
    ),
    "memory": (
        "memory: the end state (FastAPI alone) and the gateway, against the Flask app alone",
        lambda w, q, _t: [memory.memory(w, q)],
    ),
    "streams": (
        "streams: time to first byte and event-loop lag, 50 at once, flask and fastapi",
        lambda w, q, _t: [jobs.streams(w, q)],
    ),
    "downloads": (
        "health p99 while 20 downloads run, downloads owned by flask and by fastapi",
        lambda w, q, _t: [jobs.downloads(w, q)],
    ),
}
# Names for several steps at once: a module's worth.
GROUPS = {"metadata": ("clients", "search"), "jobs": ("streams", "downloads")}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: every scenario, briefly; no goals are meaningful",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[*STEPS, *GROUPS],
        metavar="NAME",
        help=f"run only these scenarios (repeatable): {', '.join([*STEPS, *GROUPS])}",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--threads", type=int, default=10, help="legacy threads (a2wsgi and gunicorn alike)"
    )
    args = parser.parse_args()
    require_wrk()
    names = [n for name in args.only or STEPS for n in GROUPS.get(name, (name,))]
    steps = [name for name in STEPS if name in names]
    out = args.out or RESULTS / _file_name(args.only, args.quick)
    started = time.time()
    scenarios: list[Scenario] = []
    with tempfile.TemporaryDirectory(prefix="figway-bench-") as tmp:
        for name in steps:
            text, run = STEPS[name]
            _say(text)
            step_started = time.time()
            scenarios += run(Path(tmp), args.quick, args.threads)
            # What each scenario costs the run (the smoke run in CI has a budget).
            _say(f"{name}: {time.time() - step_started:.0f} s")
    header = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))} on "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f"{' (quick smoke run: figures not meaningful)' if args.quick else ''}.",
        "Reproduce: `make bench` (or `make bench-smoke` for the quick run)"
        + (
            ""
            if args.only is None
            else f"; this file: `python -m bench{' --quick' if args.quick else ''} "
            + " ".join(f"--only {name}" for name in args.only)
            + "`"
        )
        + ".",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    drawn = charts(scenarios, out.parent, out.stem)
    out.write_text(render("figway benchmarks", header, scenarios))
    _say(f"wrote {out} and {len(drawn)} chart(s) beside it in {time.time() - started:.0f} s")
    print(out.read_text())
    return 0


def _file_name(only: list[str] | None, quick: bool) -> str:
    if only is None:
        return "smoke.md" if quick else "latest.md"
    # Some scenarios only: a file of their own, so the full results stay whole.
    return f"only-{'-'.join(only)}{'-smoke' if quick else ''}.md"


def _say(text: str) -> None:
    print(f"bench: {text}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
