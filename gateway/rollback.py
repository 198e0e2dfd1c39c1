"""Automatic rollback: each gateway process watches the routes at risk and rolls one back to
flask, fleet-wide, when its gates (gateway/gates.py) trip.

Watched: a route in canary (a weight above 0), or whose owner became fastapi within its
gates' `watch` (the last change to fastapi in figway's history, figway_changes, looked up
when the table changes and every FLIPS_EVERY_S). A watched route gets a sliding window per
side (gateway/window.py), fed by Gateway._http where metrics.observe is; the watchdog, a
task of the gateway's lifespan, reads the windows every TICK_S and judges them.

A trip rolls the route back to flask (owner flask, no weight, mode serve) by ONE write of
the live state (gateway/live.py `write`), actor `auto`, source `gate`, action `rollback`,
the reason naming the gate and its figures. The write's edit runs under the live state's
lock and changes the route only if its state is still the one judged: when two processes
(of any host) trip at once, the second finds it rolled back already and writes nothing,
so the history has one row. Without a live state (the file decides) the rollback goes
through change()'s file path (the manifest's lock, the owner re-read under it; one audit
row), as `figway rollback` would. The process that wrote serves by it at once; the others
follow the live state (or the file) as for any change.

Each process judges its own traffic: with N processes, a route needs `min_requests` in
one process's window. A route fully on fastapi has no flask traffic to compare with: the
error gate alone watches it (the latency gate needs both sides' `min_requests`).

One warning line per rollback this process made (an info line when another process had
made it), and figway_auto_rollbacks_total{route,gate}.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from gateway import changes as ops
from gateway import live
from gateway import manifest as mf
from gateway.gates import Gates
from gateway.legacy_side import LegacyUnavailable
from gateway.state.tables import changes as figway_changes
from gateway.table import FASTAPI, FLASK, RouteState
from gateway.window import Figures, RouteWindow
from shared.clock import isoformat, utcnow
from shared.db.base import UTCDateTime
from shared.db.engine import LazySyncSessions, unavailable_reason

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.orm import Session

    from gateway.app import Gateway

log = logging.getLogger("figway.gateway")

TICK_S = 1.0
# The history is looked up again this often (and whenever the table changes): a flip
# whose audit row was committed just after the table that serves it was read.
FLIPS_EVERY_S = 10.0
# After a failed rollback write (the state database down), the next try.
RETRY_S = 5.0
ACTOR, SOURCE, ACTION = "auto", "gate", "rollback"
ERROR_GATE, LATENCY_GATE = "error_rate", "p99_ratio"


@dataclass(frozen=True)
class Trip:
    gate: str
    reason: str
    fastapi: Figures
    flask: Figures
    at: str


def judge(gates: Gates, fastapi: Figures, flask: Figures) -> tuple[str, str] | None:
    """The gate that trips on these figures and why, in words; None when none does."""
    window = f"{gates.window_s}s"
    if gates.error_rate is not None and fastapi.requests >= gates.min_requests:
        rate = fastapi.errors / fastapi.requests
        if rate > gates.error_rate:
            return ERROR_GATE, (
                f"error rate {_pct(rate)} > {_pct(gates.error_rate)} over {window} "
                f"({fastapi.errors}/{fastapi.requests} fastapi requests)"
            )
    if (
        gates.p99_ratio is not None
        and fastapi.requests >= gates.min_requests
        and flask.requests >= gates.min_requests
        and fastapi.p99_s is not None
        and flask.p99_s is not None
        and fastapi.p99_s > gates.p99_floor_s
        and fastapi.p99_s > gates.p99_ratio * flask.p99_s
    ):
        return LATENCY_GATE, (
            f"p99 {_ms(fastapi.p99_s)} > {gates.p99_ratio:g} x flask p99 {_ms(flask.p99_s)} "
            f"over {window} ({fastapi.requests} fastapi, {flask.requests} flask requests)"
        )
    return None


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms"


def roll_back(
    path: Path,
    sessions: Callable[[], Session],
    key: str,
    seen: RouteState,
    reason: str,
    *,
    live_mode: bool,
    publish: Callable[[int], None] | None = None,
) -> tuple[bool, bool]:
    """Roll `key` back to flask (owner flask, no weight, mode serve) if its state is still
    `seen`: (whether this call changed it, whether the live state was written). Sync (the
    live state's write is; the watchdog calls it in a thread). `live_mode`: the live state
    is what the gateway serves by (else, or when it was removed meanwhile, the file's
    path, change())."""
    if live_mode:

        def edit(current: dict[str, RouteState]) -> dict[str, RouteState]:
            # Only the state judged: rolled back already (another process), or changed by
            # an operator since, it is left alone, and no row is written.
            return {key: RouteState(FLASK)} if current.get(key) == seen else {}

        manifest = mf.load(path)
        session = sessions()
        try:
            written = live.write(
                session, manifest, edit, actor=ACTOR, source=SOURCE, action=ACTION, reason=reason
            )
        except live.NotLive:
            pass  # removed meanwhile: the file decides again
        else:
            if written.changes and publish is not None:
                publish(written.version)
            return bool(written.changes), True
        finally:
            session.close()
    done = ops.change(
        path,
        ops.plan_flip(key, FLASK),
        twins=None,
        sessions=sessions,
        actor=ACTOR,
        source=SOURCE,
        action=ACTION,
        reason=reason,
        force=True,  # to flask: no verdict is asked for
        publish=publish,
    )
    return bool(done), done.version is not None


class _Watch:
    """A watched route in this process: its window since it is watched, and what for."""

    def __init__(self, state: RouteState, gates: Gates, why: str) -> None:
        self.window = RouteWindow(gates.window_s)
        self.state = state
        self.gates = gates
        self.why = why
        self.tripped: Trip | None = None
        self.retry_at = 0.0
        self.failed = False  # the last write failed (logged once until one succeeds)
        self.given_up = False  # cannot be rolled back here (no legacy side)


class Watchdog:
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._settings = gateway.settings
        self._watches: dict[str, _Watch] = {}
        self.trips: dict[str, Trip] = {}  # the last trip of each route, for status
        self._flips: dict[str, datetime] = {}  # route -> its last change to fastapi
        self._flips_generation: int | None = None
        self._flips_next = 0.0
        self._flips_problem = False
        self._sessions: LazySyncSessions | None = None
        self._publish = live.publisher(self._settings.redis_url)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="gates")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        sessions, self._sessions = self._sessions, None
        if sessions is not None:
            await asyncio.to_thread(sessions.dispose)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.tick()
            except Exception:  # the watchdog must outlive any one bad turn
                log.exception("gate watchdog failed")

    # --- one turn ------------------------------------------------------------------------

    async def tick(self) -> None:
        """Watch what is at risk now, judge it, roll back what trips."""
        gateway = self._gateway
        table = gateway.table
        manifest = gateway.watcher.manifest
        states = table.states()
        await self._look_up_flips(table.generation, manifest, states)
        wall = utcnow()
        watching: set[str] = set()
        for entry in manifest.entries:
            state = states.get(entry.key)
            if entry.gates is None or state is None:
                continue
            why = self._why(entry.key, state, entry.gates, wall)
            if why is None:
                continue
            watching.add(entry.key)
            watch = self._watches.get(entry.key)
            if (
                watch is None
                or watch.state.owner != state.owner
                or watch.gates.window_s != entry.gates.window_s
            ):
                # A fresh window: what the other owner (or an earlier canary) did is not
                # this one's doing.
                watch = self._watches[entry.key] = _Watch(state, entry.gates, why)
                gateway.windows[entry.key] = watch.window
            watch.state, watch.gates, watch.why = state, entry.gates, why
            await self._judge(entry.key, watch)
        for key in [k for k in self._watches if k not in watching]:
            del self._watches[key]
            gateway.windows.pop(key, None)

    def _why(self, key: str, state: RouteState, gates: Gates, wall: datetime) -> str | None:
        if state.weight:
            return f"canary {state.weight}%"
        if state.owner == FASTAPI:
            at = self._flips.get(key)
            if at is not None and (wall - at).total_seconds() < gates.watch_s:
                return f"on fastapi since {isoformat(at)}"
        return None

    async def _judge(self, key: str, watch: _Watch) -> None:
        now = time.perf_counter()
        if watch.tripped is None:
            fastapi, flask = watch.window.fastapi.figures(now), watch.window.flask.figures(now)
            found = judge(watch.gates, fastapi, flask)
            if found is None:
                return
            gate, reason = found
            watch.tripped = self.trips[key] = Trip(gate, reason, fastapi, flask, _now_iso())
        if watch.given_up or time.monotonic() < watch.retry_at:
            return
        await self._roll_back(key, watch, watch.tripped)

    async def _roll_back(self, key: str, watch: _Watch, trip: Trip) -> None:
        gateway = self._gateway
        try:
            # Flask's side serves the route from now on: built first (off the loop).
            await asyncio.to_thread(gateway.legacy.ensure)
        except LegacyUnavailable as exc:
            watch.given_up = True
            log.error("gate %s tripped on %s (%s) but flask cannot serve it: %s",
                      trip.gate, key, trip.reason, exc)  # fmt: skip
            return
        follower = gateway.live
        live_mode = follower is not None and follower.enabled and follower.states is not None
        try:
            changed, written_live = await asyncio.to_thread(
                self._write, key, watch.state, trip.reason, live_mode
            )
        except (SQLAlchemyError, ops.ChangeFailed, ops.ChangeRefused, mf.ManifestError) as exc:
            watch.retry_at = time.monotonic() + RETRY_S
            if not watch.failed:
                why = unavailable_reason(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
                log.warning("auto-rollback of %s (%s) failed, tried again every %gs: %s",
                            key, trip.reason, RETRY_S, why)  # fmt: skip
            watch.failed = True
            return
        watch.failed = False
        if changed:
            log.warning("auto-rollback: %s back to flask, gate %s: %s", key, trip.gate, trip.reason)
            gateway.metrics.auto_rollbacks.labels(key, trip.gate).inc()
        else:
            log.info("auto-rollback: %s (gate %s) was rolled back already", key, trip.gate)
        # This process serves by it at once; the others follow as for any change.
        if written_live and follower is not None and follower.enabled:
            await follower.refresh()
        else:
            await gateway.watcher.refresh(force=True)
        # Watched no more; should it be at risk still (an operator's change meanwhile),
        # the next turn watches it afresh.
        if self._watches.get(key) is watch:
            del self._watches[key]
            gateway.windows.pop(key, None)

    def _write(self, key: str, seen: RouteState, reason: str, live_mode: bool) -> tuple[bool, bool]:
        return roll_back(
            self._gateway.watcher.path,
            self._sessions_now(),
            key,
            seen,
            reason,
            live_mode=live_mode,
            publish=self._publish,
        )

    # --- the history: when did each route's owner become fastapi --------------------------

    async def _look_up_flips(
        self, generation: int, manifest: mf.Manifest, states: dict[str, RouteState]
    ) -> None:
        candidates = {
            e.key: e.gates.watch_s
            for e in manifest.entries
            if e.gates is not None
            and e.gates.watch_s > 0
            and (s := states.get(e.key)) is not None
            and s.owner == FASTAPI
        }
        if not candidates:
            self._flips = {}
            return
        if generation == self._flips_generation and time.monotonic() < self._flips_next:
            return
        self._flips_generation = generation
        self._flips_next = time.monotonic() + FLIPS_EVERY_S
        if live.never_made(self._settings.state_url):
            return  # no state database: no history (and none made by looking)
        since = utcnow() - timedelta(seconds=max(candidates.values()))
        try:
            self._flips = await asyncio.to_thread(self._read_flips, list(candidates), since)
        except SQLAlchemyError as exc:
            if live.is_missing_table(exc):
                self._flips = {}
                return
            if not self._flips_problem:
                log.warning("gates: the history cannot be read (%s); watching canaries only "
                            "until it can", exc)  # fmt: skip
            self._flips_problem = True
            return
        if self._flips_problem:
            log.info("gates: the history can be read again")
        self._flips_problem = False

    def _read_flips(self, routes: list[str], since: datetime) -> dict[str, datetime]:
        session: Session = self._sessions_now()()
        try:
            t = figway_changes.c
            query = (
                select(t.route, func.max(t.created_at, type_=UTCDateTime()))
                .where(
                    t.route.in_(routes),
                    t.to_owner == FASTAPI,
                    t.from_owner != FASTAPI,
                    t.created_at >= since,
                )
                .group_by(t.route)
            )
            return {route: at for route, at in session.execute(query) if at is not None}
        finally:
            with contextlib.suppress(SQLAlchemyError):
                session.close()

    def _sessions_now(self) -> LazySyncSessions:
        if self._sessions is None:
            from gateway.state import state_settings

            # Never traced: the watchdog's reads are no request's work.
            quiet = state_settings(self._settings, 1).model_copy(update={"tracing": "off"})
            quiet._span_exporter = None
            quiet._tracing = None
            self._sessions = LazySyncSessions(quiet)
        return self._sessions

    # --- status --------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Each watched route's figures now, and each route rolled back since (this
        process's), for GET /_figway/status `gates`."""
        now = time.perf_counter()
        rows = []
        for key, watch in self._watches.items():
            trip = watch.tripped
            rows.append(
                {
                    "route": key,
                    "watching": True,
                    "why": watch.why,
                    "thresholds": watch.gates.describe(),
                    "fastapi": watch.window.fastapi.figures(now).describe(),
                    "flask": watch.window.flask.figures(now).describe(),
                    "tripped": None if trip is None else trip.reason,
                    "gate": None if trip is None else trip.gate,
                }
            )
        for key, trip in self.trips.items():
            if key in self._watches:
                continue
            entry = self._gateway.watcher.manifest.entry(key)
            gates = entry.gates if entry is not None else None
            rows.append(
                {
                    "route": key,
                    "watching": False,
                    "why": None,
                    "thresholds": None if gates is None else gates.describe(),
                    "fastapi": trip.fastapi.describe(),  # as they were when it tripped
                    "flask": trip.flask.describe(),
                    "tripped": trip.reason,
                    "gate": trip.gate,
                    "tripped_at": trip.at,
                }
            )
        return sorted(rows, key=lambda r: str(r["route"]))


def _now_iso() -> str:
    return isoformat(utcnow()) or ""
