"""What shadow traffic costs the owner: one route's p99 latency and CPU per request with
a sample of its requests replayed (20%, the goal's, and every one) against none, side by
side in one run.

One `figway serve` (its workers, the manifest: the hello-world route owned by flask, its
FastAPI twin beside it) serves all three sides in turn: before each side's round the
admin API sets the route's shadow mode in the live state, and the round starts once every
worker follows it. Sides on separate servers differed by up to 10-20% in p99 with no
replay at all (a server that only captured measured 1.11x of another with shadowing off):
the difference between two servers' processes was bigger than the one measured. The load
is paced (wrk's `delay`: each connection waits between requests), so the server is busy
but not saturated: the latency measured is what a caller sees, not a queue's length.
Rounds rotate the order of the sides. CPU per request counts the server's processes over
the callers' requests: the replays (the twin, and the owner a second time for the noise
filter) are in it, as they are in the bill.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import httpx

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

ROOT = Path(__file__).resolve().parent.parent
ROUTE, PATH = "GET /api/version", "/api/version"
TOKEN = "bench-admin-token-0123456789abcdef"  # noqa: S105 - a throwaway server's
POLL_S = 0.25  # how soon every worker follows a mode set through one of them
COUNTS = ("compared", "matched", "differing", "dropped", "skipped", "errors")
CONNECTIONS = 8
DELAY_MS = 20  # per connection, between requests: at most 400 requests a second offered
GOAL = 1.05  # the issue's: shadowing costs the owner's p99 at most 5%
# The goal is held at the sample an operator starts with (the issue's own example, 20%);
# every request replayed (100) is measured beside it: three times the CPU per request.
SAMPLE, FULL = 20, 100
OFF, ON, ALL = "shadow off", f"shadow on (sample {SAMPLE})", f"shadow on (sample {FULL})"


def shadow_cost(workdir: Path, quick: bool) -> Scenario:
    work = workdir / "shadow"
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "migration_status.yaml"
    shutil.copy(ROOT / "migration_status.yaml", manifest)
    script = work / "paced.lua"
    script.write_text(f"function delay()\n  return {DELAY_MS}\nend\n")
    env = base_env(
        work / "server",
        FIGWAY_MANIFEST=str(manifest),
        FIGWAY_ADMIN_TOKEN=TOKEN,
        FIGWAY_SHADOW_FLUSH="0.5",
        FIGWAY_LIVE_POLL=str(POLL_S),
    )
    figway("db", "upgrade", env=env)
    figway("shadow", ROUTE, "--off", "--by", "bench", env=env)  # the live state, made
    rounds, seconds = (1, 1.0) if quick else (7, 5.0)
    samples = {OFF: None, ON: SAMPLE, ALL: FULL}
    # What sample 100's rounds replayed: each round's figures less the ones before it.
    replays: dict[str, Any] = dict.fromkeys(COUNTS, 0)
    replays["noise"] = set()
    before: dict[str, Any] = {}
    with serve_figway(env, work / "logs" / "server.log") as server:
        url = server[0]

        def enter(name: str) -> None:
            answer = httpx.post(
                url + "/_figway/shadow",
                json={"route": ROUTE, "sample": samples[name], "reason": "bench"},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            )
            answer.raise_for_status()
            # Every worker follows within its poll; the last side's replays have ended.
            time.sleep(POLL_S * 2 + 0.5)
            if name == ALL:
                before.clear()  # none when the route's figures started afresh
                before.update(_figures(url))

        def leave(name: str) -> None:
            if name == ALL:
                time.sleep(1.0)  # the last replays ended, every worker's figures flushed
                after = _figures(url)
                for key in COUNTS:
                    replays[key] += after.get(key, 0) - before.get(key, 0)
                replays["noise"] |= set(after.get("noise", {}))

        servers = {name: server for name in samples}
        measured = rotating_cpu_rounds(
            servers, PATH, CONNECTIONS, rounds, seconds, script, enter=enter, leave=leave
        )
    return _report(measured, rounds, seconds, replays)


def _figures(url: str) -> dict[str, Any]:
    """The shadowed route's figures, fleet-wide (every worker of the server)."""
    response = httpx.get(
        url + "/_figway/shadow",
        params={"route": ROUTE},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    response.raise_for_status()
    routes = response.json()["routes"]
    found: dict[str, Any] = routes[0] if routes else {}
    return found


def _report(
    measured: dict[str, list[tuple[Load, float]]],
    rounds: int,
    seconds: float,
    figures: dict[str, Any],
) -> Scenario:
    p99 = {name: median([load.p99_ms for load, _ in found]) for name, found in measured.items()}

    # A round's two sides run back to back, so their ratio sees the same machine: the
    # median of these ratios stands up to drift (other work on the host) better than the
    # ratio of the medians, which it reports beside.
    def paired(name: str) -> list[float]:
        return [
            on.p99_ms / max(off.p99_ms, 1e-9)
            for (off, _), (on, _) in zip(measured[OFF], measured[name], strict=True)
        ]

    cpu = {name: median([ms for _, ms in found]) for name, found in measured.items()}

    def side(name: str) -> Side:
        load = min(measured[name], key=lambda found: abs(found[0].p99_ms - p99[name]))[0]
        ratio = cpu[name] / max(cpu[OFF], 1e-9)
        return Side(name, load, (f"{cpu[name]:.3f}", f"{ratio:.2f}"))

    requests = sum(load.requests for load, _ in measured[ALL])
    replayed = figures.get("compared", 0) + figures.get("errors", 0)
    notes = [
        "rounds, p99 ms: "
        + "; ".join(
            f"{name} " + ", ".join(f"{load.p99_ms:.2f}" for load, _ in found)
            for name, found in measured.items()
        ),
        *(
            f"p99 {name} / off per round: "
            + ", ".join(f"{ratio:.2f}" for ratio in paired(name))
            + f"; median {median(paired(name)):.2f}; the ratio of the sides' median p99s: "
            f"{p99[name] / max(p99[OFF], 1e-9):.2f}"
            for name in (ON, ALL)
        ),
        "rounds, CPU ms per request: "
        + "; ".join(
            f"{name} " + ", ".join(f"{ms:.3f}" for _, ms in found)
            for name, found in measured.items()
        ),
        f"{ALL}: {requests} requests, {replayed} replayed and compared "
        f"({figures.get('matched', 0)} matched, {figures.get('differing', 0)} differing), "
        f"{figures.get('dropped', 0)} dropped (queue full), {figures.get('skipped', 0)} "
        f"skipped, {figures.get('errors', 0)} errors; noisy fields: "
        f"{', '.join(sorted(figures.get('noise', ()))) or 'none'}",
        "a replay is two more requests served in the same processes (the twin, and the "
        "owner again for the noise filter): the CPU per request counts them",
    ]
    return Scenario(
        "Shadow traffic: the owner's latency with its requests replayed",
        f"`{ROUTE}` owned by flask through one `figway serve --workers {WORKERS}`, its "
        f"shadow mode set through the admin API before each side's round: off, on at sample "
        f"{SAMPLE} and at {FULL} (a replayed request is served on the FastAPI "
        f"twin and on flask again); wrk with {CONNECTIONS} connections paced at {DELAY_MS} "
        f"ms between requests, {rounds} round(s) of {seconds:g} s per side (the order "
        "rotating); the round with the median p99 is shown, the goal is the median of each "
        f"round's ratio of sample {SAMPLE}'s p99 to shadowing off's. Columns after the "
        "errors: CPU per request (the server's processes over the callers' requests), and "
        "as a multiple of shadowing off's.",
        sides=[side(name) for name in measured],
        goals=[
            Goal(
                f"p99 with shadowing on at sample {SAMPLE} / off (median of the rounds' ratios)",
                median(paired(ON)),
                GOAL,
                higher_is_better=False,
            )
        ],
        notes=notes,
        extra_columns=("CPU ms/req", "x off"),
    )
