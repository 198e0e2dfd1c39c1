"""A gateway process for the canary tests: the demo's gateway (`figway serve`'s), given the
canary weights of CANARY_WEIGHTS (JSON: {route: weight}) as the live state's follower will
give them, in a route table built from the manifest and the routes' states. Run by
uvicorn: `uvicorn --factory tests.canary_server:factory`.

Until the live state (gateway/live.py) lands, this is how a real process gets weights;
then the tests set them with `figway canary` and this module goes."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from gateway import manifest as mf
from gateway.app import Gateway
from gateway.asgi import create_figway
from gateway.table import RouteState, RouteTable

WEIGHTS_VAR = "CANARY_WEIGHTS"


def weigh(gateway: Gateway, weights: Mapping[str, int | None], owner: str | None = None) -> None:
    """Hand the gateway a table whose states carry these weights, and `owner` (else the
    routes' owners as they are): what the live state's follower will do."""
    old = gateway.watcher.table
    states = {
        route: RouteState(owner or old.owner(route), weight) for route, weight in weights.items()
    }
    manifest = mf.load(gateway.watcher.path)
    gateway.watcher.table = RouteTable.from_manifest(
        manifest, old.generation + 1, old.default_limit, states
    )


def factory() -> Gateway:
    gateway = create_figway()
    weigh(gateway, json.loads(os.environ[WEIGHTS_VAR]))
    return gateway
