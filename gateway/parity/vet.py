"""Safe flips: a route moves to fastapi only when its parity scenarios exist and pass."""

from __future__ import annotations

from gateway.changes import Change, ChangeRefused
from gateway.parity import runner
from gateway.parity.scenarios import scenarios_for


def require_parity(changes: list[Change], database_url: str | None = None) -> None:
    """Raise ChangeRefused naming each route without scenarios or with a failing one."""
    moving = {c.route for c in changes if c.to_owner == "fastapi"}
    if not moving:
        return  # back to flask is always allowed: that is the rollback
    scenarios = scenarios_for(moving)
    covered = {s.route for s in scenarios}
    problems = [f"{route}: no parity scenarios" for route in sorted(moving - covered)]
    for outcome in runner.run(scenarios, database_url):
        if outcome.difference is not None:
            problems.append(f"{outcome.scenario.label}: {outcome.difference}")
    if problems:
        raise ChangeRefused(
            "parity check failed (use --force to flip anyway):\n  " + "\n  ".join(problems)
        )
