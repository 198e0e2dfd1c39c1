"""Capacity: how many concurrent clients each owner of `GET /api/metadata/search` holds
with p99 <= 300 ms and no errors, the provider at 100 ms; beside them, the ceiling.

The owners' promise is in clients, not requests per second: 10-20 concurrent users
becoming 500-1000. So the sweep raises the clients (wrk connections, each sending its next
request as soon as the last is answered) level by level, the same levels for every side,
and a side's sweep stops at its first failing level. The sides take turns at each level, in
one gateway: the route owned by Flask, by the FastAPI twin, and the ceiling, a route the
bench adds (bench/apps.py) that only awaits the provider through the twin's client.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import profile
from bench.apps import CEILING_PATH, served
from bench.harness import (
    QUERY,
    WORKERS,
    Load,
    bench_database,
    create_user,
    setting,
    token,
    tree_cpu_s,
    wait_owner,
    wrk,
)
from bench.report import Goal, Scenario, Side
from gateway import changes as ops

ROUTE = "GET /api/metadata/search"
SEARCH = f"/api/metadata/search?q={QUERY}"
LATENCY_MS = 100
P99_MS = 300.0
LEVELS = (10, 15, 25, 40, 60, 100, 150, 250, 400, 600, 1000, 1500, 2500, 4000)
# The smoke run's few levels: enough to see every side answer, and to stay brief.
QUICK_LEVELS = (10, 40)
# The goals the issue names: the twin holds 25x Flask's clients, and 80% of the ceiling.
RATIO_GOAL = 25.0
CEILING_GOAL = 0.8
SIDES = ("flask", "twin", "ceiling")


@dataclass
class Step:
    clients: int
    load: Load
    gateway_cpu_s: float
    provider_cpu_s: float
    second_try: bool = False  # the first try at this level failed

    @property
    def held(self) -> bool:
        return self.load.errors == 0 and self.load.p99_ms <= P99_MS

    @property
    def gateway_ms_per_request(self) -> float:
        return self.gateway_cpu_s * 1000 / max(1, self.load.requests)

    def cell(self) -> str:
        verdict = {
            (True, False): "",
            (True, True): " (held on the second try)",
            (False, True): " (failed twice)",
            (False, False): " (failed)",
        }[self.held, self.second_try]
        return f"{self.clients}: {self.load.p99_ms:,.0f} ms / {self.load.errors}{verdict}"


@dataclass
class Sweep:
    """One side's levels, in order; it ends at its first failing level."""

    steps: list[Step] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return bool(self.steps) and not self.steps[-1].held

    @property
    def held(self) -> int:
        """The most clients held: the last level before the first failure (0 if none)."""
        return max((s.clients for s in self.steps if s.held), default=0)

    @property
    def failed_at(self) -> int | None:
        return self.steps[-1].clients if self.done else None

    def best(self) -> Step | None:
        held = [s for s in self.steps if s.held]
        return held[-1] if held else None


def sweep(
    levels: Sequence[int], sides: Sequence[str], measure: Callable[[str, int], Step]
) -> dict[str, Sweep]:
    """Every level in turn, each side still held measured at it; a side stops at its
    first failing level. A level failed is measured once more before it counts: on a
    shared 2-core machine one stall of another process is a p99 of its own."""
    sweeps = {side: Sweep() for side in sides}
    for clients in levels:
        going = [side for side in sides if not sweeps[side].done]
        if not going:
            break
        for side in going:
            step = measure(side, clients)
            if not step.held:
                step = measure(side, clients)
                step.second_try = True
            sweeps[side].steps.append(step)
    return sweeps


def capacity(workdir: Path, quick: bool) -> Scenario:
    work = workdir / "capacity"
    work.mkdir(parents=True, exist_ok=True)
    with bench_database(work) as (url, database):
        return _capacity(work, quick, url, database)


def _capacity(work: Path, quick: bool, database_url: str, database: str) -> Scenario:
    levels, seconds = (QUICK_LEVELS, 1.0) if quick else (LEVELS, 5.0)
    with served(work, database_url, latency_ms=LATENCY_MS, workers=WORKERS) as (stack, _env):
        create_user(database_url)
        auth = f"Authorization: Bearer {token(stack.gateway)}"
        owner: list[str] = []  # the search route's owner now

        def own(side: str) -> None:
            wanted = "flask" if side == "flask" else "fastapi"
            if owner != [wanted]:
                ops.apply(stack.manifest, ops.plan_flip(ROUTE, wanted), twins=None)
                owner[:] = [wanted]
            # Also lets a legacy queue left full by the last level drain first.
            wait_owner(stack.gateway + SEARCH, auth, wanted)

        def measure(side: str, clients: int) -> Step:
            headers: tuple[str, ...]
            if side == "ceiling":
                url, headers = stack.gateway + CEILING_PATH, ()
            else:
                own(side)
                url, headers = stack.gateway + SEARCH, (auth,)
            pids = (stack.gateway_pid, stack.provider_pid)
            before = [tree_cpu_s(pid) for pid in pids]
            load = wrk(url, connections=clients, seconds=seconds, headers=headers)
            spent = [tree_cpu_s(pid) - b for pid, b in zip(pids, before, strict=True)]
            return Step(clients, load, spent[0], spent[1])

        # Untimed, at the first level: no side's first level pays for opening its pools
        # (database, provider connections) or for the gateway's first requests.
        for side in SIDES:
            measure(side, levels[0])
        sweeps = sweep(levels, SIDES, measure)
        held = {side: sweeps[side].held for side in SIDES}
        goals = [
            Goal("clients held, twin / flask", _ratio(held["twin"], held["flask"]), RATIO_GOAL),
            Goal(
                "clients held, twin / ceiling",
                _ratio(held["twin"], held["ceiling"]),
                CEILING_GOAL,
            ),
        ]
        profiled = ""
        failed_at = sweeps["twin"].failed_at
        if not quick and failed_at is not None and not all(g.met for g in goals):
            own("twin")
            profiled = profile.under_load(
                "capacity-twin",
                stack.gateway_pid,
                stack.gateway + SEARCH,
                connections=failed_at,
                headers=(auth,),
                what=f"the twin at {failed_at} clients, its first failing level",
            )
    return _report(levels, seconds, database, sweeps, goals, profiled)


def _report(
    levels: Sequence[int],
    seconds: float,
    database: str,
    sweeps: dict[str, Sweep],
    goals: list[Goal],
    profiled: str,
) -> Scenario:
    labels = {
        "flask": f"search owned by flask ({WORKERS} x {setting('legacy_threads')} threads)",
        "twin": "search owned by fastapi (the twin)",
        "ceiling": f"`GET {CEILING_PATH}`: only awaits the provider (the ceiling)",
    }
    sides = []
    for side in SIDES:
        best = sweeps[side].best()
        if best is not None:
            sides.append(
                Side(
                    f"{labels[side]}, at {best.clients} clients",
                    best.load,
                    (
                        _held(sweeps[side]),
                        _failed(sweeps[side]),
                        f"{best.gateway_ms_per_request:.2f}",
                    ),
                )
            )
    notes = [
        f"levels, clients: p99 / errors, {side}: "
        + ", ".join(step.cell() for step in sweeps[side].steps)
        for side in SIDES
    ]
    steps = [step for side in SIDES for step in sweeps[side].steps]
    provider_ms = (
        sum(s.provider_cpu_s for s in steps) * 1000 / max(1, sum(s.load.requests for s in steps))
    )
    notes.append(
        f"the fake provider's CPU per call over the whole sweep: {provider_ms:.3f} ms; "
        f"levels above {levels[-1]:,} clients were not tried"
    )
    nothing = [side for side in SIDES if not sweeps[side].held]
    if nothing:
        notes.append(
            f"held no level, so missing from the table (a ratio against it is 0): "
            f"{', '.join(nothing)}"
        )
    if profiled:
        notes.append(profiled)
    return Scenario(
        "Capacity: clients held on the search route",
        f"`GET {SEARCH}` with a bearer token through the gateway (`figway serve --workers "
        f"{WORKERS}` with one bench route more, {database}), the fake provider at "
        f"{LATENCY_MS} ms in its own process. Clients are wrk connections, each sending its "
        f"next request as soon as the last is answered, {seconds:g} s per level, after "
        f"one untimed level per side; levels {', '.join(str(n) for n in levels)}. A level "
        f"is held with p99 <= {P99_MS:g} ms and no error (non-2xx or socket); a side's "
        "sweep stops at its first failing level (a failed level is measured once more "
        "and fails only if it fails again), and it holds the level before. At each level "
        "the sides take turns in one gateway: the route owned by flask, by fastapi, and "
        "the ceiling, a bench route that only awaits the provider through the client the "
        "twin uses (bench/apps.py). The table shows each side at the most clients it held.",
        sides=sides,
        goals=goals,
        notes=notes,
        extra_columns=("clients held", "failed at", "gateway CPU ms/req"),
    )


def _ratio(side: int, against: int) -> float:
    # Against a side that held no level there is no ratio: 0, so the goal shows unmet.
    return side / against if against else 0.0


def _held(sweep: Sweep) -> str:
    # A side that held every level tried holds at least that many: the sweep ended first.
    return str(sweep.held) if sweep.done else f">= {sweep.held}"


def _failed(sweep: Sweep) -> str:
    return "-" if sweep.failed_at is None else str(sweep.failed_at)
