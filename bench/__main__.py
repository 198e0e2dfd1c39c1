"""`python -m bench [--quick]`: run the scenarios, write bench/results/latest.md."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from bench import gateway, metadata
from bench.harness import require_wrk
from bench.report import Scenario, render

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: every scenario, briefly; no goals are meaningful",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--threads", type=int, default=10, help="legacy threads (a2wsgi and gunicorn alike)"
    )
    args = parser.parse_args()
    require_wrk()
    out = args.out or RESULTS / ("smoke.md" if args.quick else "latest.md")
    started = time.time()
    scenarios: list[Scenario] = []
    with tempfile.TemporaryDirectory(prefix="figway-bench-") as tmp:
        _say("routing decision")
        scenarios.append(gateway.routing_decision(args.quick))
        _say("gateway against each app alone (FastAPI under uvicorn, Flask under gunicorn)")
        scenarios += gateway.through_the_gateway(Path(tmp), args.quick, args.threads)
        _say("metadata client stacks: plain httpx, httpx over aiohttp, raw aiohttp")
        scenarios.append(metadata.client_stacks(Path(tmp), args.quick))
        _say("metadata search at 500 clients: the FastAPI twin against the Flask route")
        scenarios.append(metadata.search_twin(Path(tmp), args.quick))
    header = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))} on "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f"{' (quick smoke run: figures not meaningful)' if args.quick else ''}.",
        "Reproduce: `make bench` (or `make bench-smoke` for the quick run).",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render("figway benchmarks", header, scenarios))
    _say(f"wrote {out} in {time.time() - started:.0f} s")
    print(out.read_text())
    return 0


def _say(text: str) -> None:
    print(f"bench: {text}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
