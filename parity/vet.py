"""Safe flips: a route moves to fastapi only when its parity scenarios exist and pass."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from gateway.changes import Change, ChangeRefused

if TYPE_CHECKING:
    from parity.harness import Harness
    from parity.runner import Checked, Outcome

# Told one line per route once its scenarios have run: a long check is not silent.
Progress = Callable[[str], None]


def require_parity(
    changes: list[Change],
    harness: Harness | None = None,
    *,
    progress: Progress | None = None,
) -> None:
    """Raise ChangeRefused naming each route without scenarios or with a failing one.

    `harness`: the scenarios to pick from and how to run them (default: the demo's);
    `progress`: told `[i/n] ROUTE: k scenarios, m matched (s)` as each route's finish."""
    moving = {c.route for c in changes if c.to_owner == "fastapi"}
    if not moving:
        return  # back to flask is always allowed: that is the rollback
    if harness is None:
        from parity.demo import SUITE

        harness = SUITE.harness(None)
    scenarios = harness.select(moving)
    covered = {s.route for s in scenarios}
    problems = [f"{route}: no parity scenarios" for route in sorted(moving - covered)]
    if scenarios:
        on_outcome = _reporter(scenarios, progress) if progress is not None else None
        for outcome in harness.run(scenarios, on_outcome):
            if outcome.difference is not None:
                problems.append(f"{outcome.scenario.label}: {outcome.difference}")
    if problems:
        raise ChangeRefused(
            "parity check failed (use --force to flip anyway):\n  " + "\n  ".join(problems)
        )


def _reporter(scenarios: Sequence[Checked], progress: Progress) -> Callable[[Outcome[Any]], None]:
    left = Counter(s.route for s in scenarios)
    routes = len(left)
    done: list[Outcome[Any]] = []
    started = time.perf_counter()

    def on_outcome(outcome: Outcome[Any]) -> None:
        nonlocal started
        route = outcome.scenario.route
        done.append(outcome)
        left[route] -= 1
        if left[route]:
            return
        ran = [o for o in done if o.scenario.route == route]
        bad = sum(1 for o in ran if o.difference is not None)
        verdict = f"{len(ran) - bad} matched" + (f", {bad} MISMATCHED" if bad else "")
        finished = routes - sum(1 for n in left.values() if n)
        elapsed = time.perf_counter() - started
        progress(
            f"[{finished}/{routes}] {route}: {len(ran)} scenario(s), {verdict} ({elapsed:.1f} s)"
        )
        done.clear()
        started = time.perf_counter()

    return on_outcome
