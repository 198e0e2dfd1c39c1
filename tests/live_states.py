"""Routes' live states for tests (canary weights, shadow modes), set as `figway canary` and
`figway shadow` set them: written into the gateway's live state (gateway/live.py, created
from its manifest if need be), which the gateway's follower reads at its start and then
within its poll."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from gateway import changes as ops
from gateway.app import Gateway
from gateway.table import SHADOW, RouteState
from shared.db.engine import sync_url
from tests.polling import wait_for

Edit = Callable[[dict[str, RouteState]], dict[str, RouteState]]


def write_states(gateway: Gateway, edit: Edit, action: str) -> None:
    """One write of the gateway's live state, as the CLI makes it."""
    engine = create_engine(sync_url(gateway.settings.state_url))
    try:
        ops.change_states(
            gateway.watcher.path,
            edit,
            sessions=sessionmaker(engine),
            actor="test",
            source="cli",
            action=action,
            reason=None,
        )
    finally:
        engine.dispose()


def weigh(
    gateway: Gateway,
    weights: Mapping[str, int | None],
    owner: str | None = None,
    *,
    follow: bool = True,
) -> None:
    """These canary weights (and `owner`, else the routes' owners as they are).
    `follow`: wait until the gateway serves by them (it runs: a TestClient is open);
    otherwise it reads them when it starts."""

    def edit(states: dict[str, RouteState]) -> dict[str, RouteState]:
        return {
            route: replace(states[route], weight=weight, owner=owner or states[route].owner)
            for route, weight in weights.items()
        }

    write_states(gateway, edit, "canary")
    if not follow:
        return
    wait_for(
        lambda: all(
            gateway.table.state(route).weight == weight
            and (owner is None or gateway.table.owner(route) == owner)
            for route, weight in weights.items()
        ),
        5,
    )


def shadowing(gateway: Gateway, sample: int = 100) -> None:
    """Every route of the gateway's manifest in shadow mode at `sample` percent, POSTs
    too (which `figway shadow` refuses: the gateway's own guard must keep a write from a
    replay), read by the gateway when it starts."""

    def edit(states: dict[str, RouteState]) -> dict[str, RouteState]:
        return {key: replace(state, mode=SHADOW, sample=sample) for key, state in states.items()}

    write_states(gateway, edit, "shadow")
