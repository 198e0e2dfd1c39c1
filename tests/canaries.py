"""Canary weights for tests, set as `figway canary` sets them: written into the gateway's
live state (gateway/live.py, created from its manifest if need be), which the gateway's
follower reads at its start and then within its poll."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from gateway import changes as ops
from gateway.app import Gateway
from gateway.table import RouteState
from shared.db.engine import sync_url


def weigh(
    gateway: Gateway,
    weights: Mapping[str, int | None],
    owner: str | None = None,
    *,
    follow: bool = True,
) -> None:
    """Write these weights (and `owner`, else the routes' owners as they are) into the
    live state. `follow`: wait until the gateway serves by them (it runs: a TestClient is
    open); otherwise it reads them when it starts."""

    def edit(states: dict[str, RouteState]) -> dict[str, RouteState]:
        return {
            route: replace(states[route], weight=weight, owner=owner or states[route].owner)
            for route, weight in weights.items()
        }

    engine = create_engine(sync_url(gateway.settings.state_url))
    try:
        ops.change_states(
            gateway.watcher.path,
            edit,
            sessions=sessionmaker(engine),
            actor="test",
            source="cli",
            action="canary",
            reason=None,
        )
    finally:
        engine.dispose()
    if not follow:
        return
    deadline = time.monotonic() + 5
    while any(
        gateway.table.state(route).weight != weight
        or (owner is not None and gateway.table.owner(route) != owner)
        for route, weight in weights.items()
    ):
        assert time.monotonic() < deadline, "the gateway did not follow its live state"
        time.sleep(0.02)
