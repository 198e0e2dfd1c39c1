"""What `figway verify` and the flip path run, whichever app: the scenarios, a way to run
some of them, and the files that define them (their digest is in every verdict).

--scenarios names a Suite (parity.scenario); the demo's own harness (parity.demo) has
richer scenarios (seeded users, a fake provider, media) and builds its Harness itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from gateway.target import TargetError, call_factory
from parity.scenario import Suite

if TYPE_CHECKING:
    from gateway.target import Target
    from parity.runner import Checked, OnOutcome, Outcome


@dataclass(frozen=True)
class Harness:
    scenarios: tuple[Checked, ...]
    # Runs the scenarios given (some of `scenarios`), telling each outcome as it comes.
    run: Callable[[Sequence[Any], OnOutcome | None], list[Outcome[Any]]]
    sources: tuple[Path, ...]  # the files that define the scenarios
    where: str  # where a route's missing scenarios are to be added, for messages

    def select(self, routes: Collection[str]) -> list[Checked]:
        """The scenarios of `routes`, one route's together (their own order kept)."""
        chosen = [s for s in self.scenarios if s.route in routes]
        chosen.sort(key=lambda s: s.route)
        return chosen


@runtime_checkable
class HarnessSource(Protocol):
    """An object that builds its own Harness (the demo's SUITE)."""

    def harness(self, database_url: str | None) -> Harness: ...


def load(target: Target, database_url: str | None = None) -> Harness:
    """The target's scenarios (TargetError when it has none, or they are not a Suite)."""
    spec = target.suite_spec
    obj = target.suite()
    if isinstance(obj, HarnessSource):
        return obj.harness(database_url)
    if not isinstance(obj, Suite):  # a factory returning it, as --app takes one
        obj = call_factory(spec, obj, "a parity.Suite", "--scenarios")
    if not isinstance(obj, Suite):
        raise TargetError(
            f"--scenarios {spec!r}: the factory returned {type(obj).__name__}, not a parity.Suite"
        )
    if database_url is not None:
        raise TargetError(
            "--database-url is the demo harness's; a Suite's gateway factory makes its own state"
        )
    return _suite_harness(obj, target.manifest_path, spec)


def _suite_harness(suite: Suite, manifest: Path, spec: str) -> Harness:
    def run(scenarios: Sequence[Any], on_outcome: OnOutcome | None) -> list[Outcome[Any]]:
        from parity import runner

        return list(runner.run(suite, manifest, scenarios, on_outcome=on_outcome))

    return Harness(suite.scenarios, run, module_sources(spec), where=spec)


def module_sources(spec: str) -> tuple[Path, ...]:
    """The files of the module a spec names (loaded already): its own file, or every .py
    file of its package when it is one."""
    module = sys.modules[spec.partition(":")[0]]
    file = Path(str(module.__file__))
    if file.name == "__init__.py":
        return tuple(sorted(file.parent.rglob("*.py")))
    return (file,)
