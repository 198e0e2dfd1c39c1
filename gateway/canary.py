"""Canaries: a route's `weight` (0-100) sends that percentage of its callers to fastapi
whatever its owner, each caller kept on its side.

A caller's bucket for a route is a stable hash (blake2b, no per-process seed) of the route
key and the caller (gateway/callers.py) modulo 10,000; the caller goes to fastapi when
its bucket is below weight x 100. So, while a weight holds, a caller sees one side on
every request and on every process (of every host: nothing here is per process); raising
the weight only moves callers from flask to fastapi, lowering it only back. Weight 0
sends everyone to flask, 100 everyone to fastapi. Each route hashes with its own key, so
the 30% of one route are not the 30% of another.

Only HTTP routes: a Socket.IO channel's sessions follow its owner (gateway/channels.py),
and a canary weight on one is refused.

`X-Figway-Side: flask|fastapi` forces the side of one request, for parity tooling and
testers, and only for an admin (the bearer FIGWAY_ADMIN_TOKEN, or whoever the gateway's
admin_auth hook admits): anyone else's header is ignored, the request served as if it had
none (never an error: the header reveals nothing and costs nothing to ignore). A forced
side that has no handler for the route (no FastAPI twin; no legacy side in this process)
is ignored as well.

Setting a weight goes through `set_weight`, a write of figway's live state (the fleet-wide
`figway_routes`, written with its audit row in one transaction, gateway/live.py); the
admin API and `figway canary` check a request with `check_weight` before they call it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from gateway import manifest as mf
from gateway.changes import ChangeRefused, Done, change_states
from gateway.table import FASTAPI, FLASK, RouteState

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session

BUCKETS = 10_000
SIDE_HEADER = b"x-figway-side"
SIDES = {b"flask": FLASK, b"fastapi": FASTAPI}
# How the side of a request to a manifest route was chosen (metrics, request spans).
MANIFEST, CANARY, FORCED = "manifest", "canary", "forced"


def bucket(route: str, caller: str) -> int:
    """The caller's bucket for the route, 0 to 9,999: the same in every process."""
    # A NUL between them: neither a route key nor a caller contains one, so no two
    # (route, caller) pairs hash the same text.
    digest = hashlib.blake2b(f"{route}\0{caller}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def side_for(route: str, caller: str, weight: int) -> str:
    """The side a canary at `weight` percent sends this caller to."""
    return FASTAPI if bucket(route, caller) < weight * 100 else FLASK


def asked_side(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The side X-Figway-Side asks for, if it names one (any case); None otherwise."""
    for name, value in headers:
        if name == SIDE_HEADER:
            return SIDES.get(value.strip().lower())
    return None


# -- setting a weight -----------------------------------------------------------------


def parse_weight(text: str) -> int | None:
    """A weight as an operator types it: 0 to 100 (a trailing % allowed), or `off` (None:
    no canary, the owner serves everyone). ValueError saying what is expected."""
    word = text.strip().lower()
    if word == "off":
        return None
    number = word.removesuffix("%").strip()
    if not (number.isascii() and number.isdigit()) or int(number) > 100:
        raise ValueError(f"{text!r}: a whole percentage from 0 to 100, or off")
    return int(number)


def check_weight(
    manifest: mf.Manifest, route: str, weight: int | None, twins: Iterable[str] | None
) -> str:
    """The route's manifest key, once the change is one a canary can make; ChangeRefused
    saying why not. `twins`: the FastAPI app's routes (None: not known, not checked)."""
    if weight is not None and (
        isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100
    ):
        raise ChangeRefused(f"weight {weight!r}: a whole percentage from 0 to 100")
    entry = manifest.entry(route)
    if entry is None:
        raise ChangeRefused(f"no route {mf.normalize_key(route)!r} in {manifest.path}")
    if entry.method == mf.CHANNEL:
        raise ChangeRefused(
            f"{entry.key} is a Socket.IO channel: its sessions follow the owner (flip it)"
        )
    if twins is not None and mf.twin_key(entry.key) not in {mf.twin_key(k) for k in twins}:
        raise ChangeRefused(f"no FastAPI twin for {entry.key}: a canary needs one")
    return entry.key


def set_weight(
    path: Path,
    sessions: Callable[[], Session],
    route: str,
    weight: int | None,
    *,
    actor: str,
    source: str,
    reason: str | None,
    publish: Callable[[int], None] | None = None,
) -> Done:
    """Set the route's canary weight (None: end the canary) fleet-wide, with its audit row,
    in figway's live state (created from the manifest at `path` if it does not exist: the
    file cannot say a weight); every gateway follows within its poll, at once when
    `publish` tells them. `route` is checked already (check_weight). The one write the
    admin API and `figway canary` make."""

    def edit(states: dict[str, RouteState]) -> dict[str, RouteState]:
        return {route: replace(states[route], weight=weight)}

    return change_states(
        path,
        edit,
        sessions=sessions,
        actor=actor,
        source=source,
        action="canary",
        reason=reason,
        publish=publish,
    )
