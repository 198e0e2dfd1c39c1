"""Run a user's Suite: each scenario once per side, each side on a fresh workdir with a
gateway whose manifest gives the scenario's route to that side, then compare.

Both runs go through the gateway itself (the app as served), so the X-Served-By header
tells which side answered: a run the other side served is a difference, not a match."""

from __future__ import annotations

import gc
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from starlette.testclient import TestClient

from gateway import manifest as mf
from parity.compare import Answer, first_difference
from parity.scenario import Scenario, Step, Suite

SIDES = ("flask", "fastapi")
SERVED_BY = "x-served-by"


class Checked(Protocol):
    """What the verify and flip paths need of any scenario, the demo's or a user's."""

    @property
    def route(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str: ...


S = TypeVar("S", bound=Checked, covariant=True)


@dataclass(frozen=True)
class Outcome(Generic[S]):
    scenario: S
    difference: str | None  # None: they answered alike


OnOutcome = Callable[[Outcome[Any]], None]


def run(
    suite: Suite,
    manifest: Path,
    scenarios: Sequence[Scenario],
    *,
    on_outcome: OnOutcome | None = None,
) -> list[Outcome[Scenario]]:
    """`manifest`: the target's; each side's run gets a copy with one owner changed.
    `on_outcome` is told each outcome as soon as it is known (progress)."""
    known = set(mf.load(manifest).by_key)
    outcomes: list[Outcome[Scenario]] = []
    with tempfile.TemporaryDirectory(prefix="figway-parity-") as tmp:
        for i, scenario in enumerate(scenarios):
            if mf.normalize_key(scenario.route) not in known:
                difference: str | None = f"{scenario.route} is not a route of {manifest}"
            else:
                difference = _run_one(suite, manifest, scenario, Path(tmp) / str(i))
            outcome = Outcome(scenario, difference)
            if on_outcome is not None:
                on_outcome(outcome)
            outcomes.append(outcome)
    return outcomes


def _run_one(suite: Suite, manifest: Path, scenario: Scenario, root: Path) -> str | None:
    answers: dict[str, Answer] = {}
    for side in SIDES:
        workdir = root / side
        workdir.mkdir(parents=True)
        copy = workdir / manifest.name
        shutil.copyfile(manifest, copy)
        with mf.locked(copy):
            mf.set_owners(copy, {scenario.route: side})
        try:
            gateway = suite.gateway(workdir, copy)
        except mf.ManifestError as exc:  # e.g. owned by fastapi, and no twin
            return f"{side}: no gateway over the manifest: {exc}"
        found = _ask(gateway, scenario, side)
        if isinstance(found, str):
            return found
        state = suite.state(workdir) if suite.state is not None else {}
        answers[side] = Answer(found.status, found.headers, found.set_cookies, found.body, state)
    return first_difference(answers["flask"], answers["fastapi"], scenario.volatile)


def _ask(gateway: Any, scenario: Scenario, side: str) -> Answer | str:
    """The scenario's answer from `side` (its state not read yet), or the difference that
    stopped it. The client's cookie jar carries the `before` steps' login."""
    try:
        with TestClient(
            gateway,
            base_url="http://localhost",
            follow_redirects=False,
            raise_server_exceptions=False,  # a 500 is an answer to compare, not a crash
        ) as client:
            for step in scenario.before:
                reply = client.request(step.method, step.path, **_request(step))
                if reply.status_code >= 500:
                    return (
                        f"before step {step.method} {step.path}: {side} answered "
                        f"{reply.status_code}"
                    )
            reply = client.request(scenario.method, scenario.path, **_request(scenario))
    finally:
        # The gateway's startup freezes what it built (gc.freeze): unfrozen here, or each
        # scenario's two gateways would stay in memory for the rest of the run.
        gc.unfreeze()
    served = reply.headers.get(SERVED_BY)
    if served != side:
        return f"served by {served or 'no side'} on the {side} run (the manifest gave it {side})"
    return Answer(
        reply.status_code,
        {k.lower(): v for k, v in reply.headers.items() if k.lower() != SERVED_BY},
        tuple(reply.headers.get_list("set-cookie")),
        reply.content,
        {},
    )


def _request(request: Scenario | Step) -> dict[str, Any]:
    """The request's headers and body in httpx's terms."""
    headers: Mapping[str, str] = request.headers
    if isinstance(request, Scenario) and request.raw is not None:
        if not any(k.lower() == "content-type" for k in headers):
            headers = {**headers, "content-type": "application/json"}
        return {"headers": dict(headers), "content": request.raw}
    if request.form is not None:
        return {"headers": dict(headers), "data": request.form}
    if request.json is not None:
        return {"headers": dict(headers), "json": request.json}
    return {"headers": dict(headers)}
