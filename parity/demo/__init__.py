"""The demo app's own harness: richer scenarios than a Suite's (seeded users by role, a
fake metadata provider, media files, arranged rows), run on the two apps directly.

SUITE is what `figway verify` runs for the demo (gateway.target.DEMO_SUITE names it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parity.harness import Harness
from parity.runner import OnOutcome, Outcome

HERE = Path(__file__).parent


def sources() -> tuple[Path, ...]:
    """The scenarios' definitions: any edit to them asks for a new `figway verify`."""
    return (
        HERE / "scenario.py",
        HERE / "scenarios.py",
        *sorted((HERE / "catalogue").rglob("*.py")),
    )


class DemoSuite:
    def harness(self, database_url: str | None) -> Harness:
        from parity.demo.scenarios import CATALOGUE

        def run(scenarios: Sequence[Any], on_outcome: OnOutcome | None) -> list[Outcome[Any]]:
            from parity.demo import runner

            return list(runner.run(list(scenarios), database_url, on_outcome=on_outcome))

        return Harness(CATALOGUE, run, sources(), where="parity/demo/catalogue/")


SUITE = DemoSuite()
