"""The fleet's live state: who serves each route (and its canary weight and mode), in
figway's own tables (figway_routes, figway_live_version) in the state database, followed
by every gateway process on every host within a second.

Until it is created (`figway apply`, or the first canary or shadow change, which seeds it
from the file) there is no version row, and the manifest file alone decides, as it always
did: change() writes the file. Once created, the database rules: every change (flips,
rollouts, rollbacks, canary weights, modes, apply) goes through `write()`, which in ONE
transaction raises the version row (the lock that serialises writers from any process),
updates the routes' rows and inserts their audit rows; after the commit the new version is
published on Redis (`CHANNEL`) when REDIS_URL is set. Each gateway's `LiveFollower` polls
the version row (one primary-key read) every `live_poll_s`, or sooner when Redis tells it,
and swaps in a table built from the file's structure and the live states.

No Flask here, nor the parity package: this module is on the serving import graph.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from gateway import manifest as mf
from gateway.state.tables import changes as figway_changes
from gateway.state.tables import live_version, routes
from gateway.table import SERVE as SERVE
from gateway.table import RouteState
from shared.clock import utcnow
from shared.db.engine import LOCK_RACE_ATTEMPTS, is_lock_race, is_unavailable, unavailable_reason

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from gateway.watcher import ManifestWatcher
    from shared.config import Settings

log = logging.getLogger("figway.gateway")

CHANNEL = "figway:live"
_VERSION_ID = 1
# With Redis, a published version wakes the followers at once; the poll is then only a
# backstop (a message lost while a subscriber reconnected), every few seconds.
BACKSTOP_S = 3.0
# How long a gateway's startup waits for the live state before serving by the file.
STARTUP_WAIT_S = 5.0
# MySQL's "table doesn't exist"; SQLite says so in words.
_MYSQL_NO_TABLE = 1146


@dataclass(frozen=True)
class Change:
    """One route's change, one audit row (figway_changes)."""

    route: str
    phase: int
    from_owner: str
    to_owner: str


Executor = Session | Connection


def record(
    session: Executor,
    changes: list[Change],
    *,
    actor: str,
    source: str,
    action: str,
    reason: str | None,
    notes: Mapping[str, str] | None = None,
) -> None:
    """One audit row per changed route, in the open transaction; the caller commits.
    `notes` (route -> text) go before the reason: what changed beyond the owner."""
    if not changes:
        return
    now = utcnow()
    notes = notes or {}
    session.execute(
        insert(figway_changes),
        [
            {
                "created_at": now,
                "actor": actor[:80],
                "source": source,
                "action": action,
                "route": c.route,
                "phase": c.phase,
                "from_owner": c.from_owner,
                "to_owner": c.to_owner,
                "reason": _with_note(notes.get(c.route), reason),
            }
            for c in changes
        ],
    )


def _with_note(note: str | None, reason: str | None) -> str | None:
    if note is None:
        return reason
    return f"[{note}] {reason}" if reason else f"[{note}]"


# --- reading ----------------------------------------------------------------------------


def is_missing_table(exc: BaseException) -> bool:
    """A state table is not there (`figway db upgrade` never ran): no live state."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    args = exc.orig.args
    if args and args[0] == _MYSQL_NO_TABLE:
        return True
    return "no such table" in str(exc.orig).lower()


def never_made(url: str) -> bool:
    """A SQLite state database whose file does not exist holds no live state; asking it
    would make an empty file (a glance at `figway status` must leave no trace)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not os.path.exists(parsed.database)


# Reads of the version around the rows before taking them as they are (load_live).
_CONSISTENT_TRIES = 3


def read_version(conn: Executor) -> int | None:
    """The live state's version; None when it was never created (no row, or no table)."""
    try:
        version = conn.execute(
            select(live_version.c.version).where(live_version.c.id == _VERSION_ID)
        ).scalar_one_or_none()
    except DBAPIError as exc:
        if is_missing_table(exc):
            return None
        raise
    return None if version is None else int(version)


def _rows(conn: Executor) -> dict[str, RouteState]:
    return {
        row.route: RouteState(row.owner, row.weight, row.mode, row.sample)
        for row in conn.execute(select(routes))
    }


def load_live(conn: Executor) -> tuple[int, dict[str, RouteState]] | None:
    """(version, route -> state) of the live state; None when it was never created.

    With autocommit (the async engine) each read is its own snapshot, so the version is
    read before the rows and again after them: every write raises it, so the same version
    on both sides means the rows are that version's (what a process serves and the version
    it reports agree). Still moving after a few tries (writers back to back): the rows are
    newer than their version, which costs one more reload at the next poll, where rows
    older than it would be missed until the next change."""
    version = read_version(conn)
    tries = _CONSISTENT_TRIES
    while version is not None:
        rows = _rows(conn)
        again = read_version(conn)
        tries -= 1
        if again == version or not tries:
            return version, rows  # the rows are this version's, or newer
        version = again
    return None


def load_states(conn: Executor) -> dict[str, RouteState] | None:
    """Route -> live state; None when the live state was never created."""
    loaded = load_live(conn)
    return None if loaded is None else loaded[1]


def effective(
    manifest: mf.Manifest, states: Mapping[str, RouteState] | None
) -> dict[str, RouteState]:
    """Every route of the file with the state it is served by: its live state, else the
    file's owner (a route added to the file since the live state was made)."""
    live = states or {}
    return {e.key: live.get(e.key) or RouteState(e.owner) for e in manifest.entries}


def overlay(manifest: mf.Manifest, states: Mapping[str, RouteState] | None) -> mf.Manifest:
    """The file's manifest with the live owners: what planners and checks see."""
    if not states:
        return manifest
    entries = tuple(
        replace(e, owner=states[e.key].owner) if e.key in states else e for e in manifest.entries
    )
    return replace(manifest, entries=entries, by_key={e.key: e for e in entries})


@dataclass(frozen=True)
class Drift:
    route: str
    file: str  # the file's owner
    live: RouteState


def drift(manifest: mf.Manifest, states: Mapping[str, RouteState] | None) -> list[Drift]:
    """Routes whose live state is not what the file says: another owner, or a canary or
    shadow (which the file cannot say)."""
    if states is None:
        return []
    return [
        Drift(e.key, e.owner, s)
        for e in manifest.entries
        if (s := states.get(e.key)) is not None
        and (s.owner != e.owner or s.weight is not None or s.mode != SERVE)
    ]


def describe(state: RouteState) -> str:
    """A route's live state in a few words: `fastapi`, `flask, canary 10%`, ..."""
    parts = [state.owner]
    if state.weight is not None:
        parts.append(f"canary {state.weight}%")
    if state.mode != SERVE:
        sample = "" if state.sample is None else f" {state.sample}%"
        parts.append(f"{state.mode}{sample}")
    return ", ".join(parts)


# --- writing ----------------------------------------------------------------------------

# Gets every route's current state (effective()), returns the new states of the routes it
# changes (others are ignored; an unchanged state is no change).
Edit = Callable[[dict[str, RouteState]], Mapping[str, RouteState]]


class NotLive(Exception):
    """The live state does not exist (and the write was not asked to create it)."""


@dataclass(frozen=True)
class Written:
    version: int
    changes: list[Change]
    created: bool  # this write created the live state


def write(
    session: Session,
    manifest: mf.Manifest,
    edit: Edit,
    *,
    actor: str,
    source: str,
    action: str,
    reason: str | None,
    create: bool = False,
) -> Written:
    """The one write of the live state: the version row raised (which serialises writers
    of every process: the others wait on its row lock), the routes' rows updated, their
    audit rows inserted, all committed as one transaction. `edit` runs inside it, against
    the states as they are once the lock is held, so concurrent writers never lose an
    update. `create`: make the live state from the file (`manifest`) if it does not exist
    yet, else NotLive. A lock race (two creators at once) is run again from the start.
    SQLAlchemyError when the database cannot take it; nothing is then changed."""
    for attempt in range(1, LOCK_RACE_ATTEMPTS + 1):
        try:
            written = _write(session, manifest, edit, actor, source, action, reason, create)
        except (IntegrityError, DBAPIError) as exc:
            session.rollback()
            # Two creators both inserting the version row, or a deadlock between them.
            race = isinstance(exc, IntegrityError) or is_lock_race(exc)
            if not race or attempt == LOCK_RACE_ATTEMPTS:
                raise
            continue
        except BaseException:
            session.rollback()
            raise
        return written
    raise AssertionError("unreachable")  # pragma: no cover


def _write(
    session: Session,
    manifest: mf.Manifest,
    edit: Edit,
    actor: str,
    source: str,
    action: str,
    reason: str | None,
    create: bool,
) -> Written:
    now = utcnow()
    # First statement a write: it takes the row's lock before anything is read, so the
    # reads below see every writer that committed before (InnoDB takes its snapshot at the
    # first plain read; SQLite's write lock is held from here).
    raised = (
        session.connection()
        .execute(
            update(live_version)
            .where(live_version.c.id == _VERSION_ID)
            .values(version=live_version.c.version + 1, changed_at=now)
        )
        .rowcount
    )
    created = raised == 0
    if created:
        if not create:
            session.rollback()
            raise NotLive("the live state was not created")
        session.execute(insert(live_version).values(id=_VERSION_ID, version=1, changed_at=now))
        session.execute(delete(routes))  # rows left by a state deleted by hand
        rows: dict[str, RouteState] = {}
    else:
        rows = _rows(session)
    before = effective(manifest, rows)
    wanted = {k: v for k, v in edit(dict(before)).items() if k in before and v != before[k]}
    if not wanted and not created:
        session.rollback()  # nothing to change: the version stays
        version = read_version(session)
        assert version is not None
        return Written(version, [], False)
    after = {**before, **wanted}
    by = actor[:80]
    # Rows for every route once created (the file's owners fixed in the database), then
    # for the routes changed.
    missing = [k for k in (after if created else wanted) if k not in rows]
    if missing:
        session.execute(insert(routes), [_row(k, after[k], now, by) for k in missing])
    for key in wanted:
        if key in rows:
            session.execute(
                update(routes).where(routes.c.route == key).values(_row(key, after[key], now, by))
            )
    phases = {e.key: e.phase for e in manifest.entries}
    changed = [Change(k, phases[k], before[k].owner, after[k].owner) for k in wanted]
    notes = {
        k: f"{describe(before[k])} -> {describe(after[k])}"
        for k in wanted
        if replace(before[k], owner=after[k].owner) != after[k]
    }
    record(session, changed, actor=actor, source=source, action=action, reason=reason, notes=notes)
    version = read_version(session)
    assert version is not None
    session.commit()
    return Written(version, changed, created)


def _row(key: str, state: RouteState, now: Any, by: str) -> dict[str, Any]:
    return {
        "route": key,
        "owner": state.owner,
        "weight": state.weight,
        "mode": state.mode,
        "sample": state.sample,
        "changed_at": now,
        "changed_by": by,
    }


def publisher(redis_url: str | None) -> Callable[[int], None] | None:
    """What tells every gateway at once of a new version: a PUBLISH on Redis when
    REDIS_URL is set (None otherwise; they find it by polling within `live_poll_s`)."""
    if not redis_url:
        return None

    def publish(version: int) -> None:
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.publish(CHANNEL, str(version))
        except (redis.RedisError, OSError) as exc:
            # The followers' poll finds it all the same, a few seconds later.
            log.warning("live state version %s not published on Redis: %s", version, exc)
        finally:
            client.close()

    return publish


# --- following (each gateway process) ----------------------------------------------------


class LiveFollower:
    """Keeps a gateway's table in step with the live state: the version row polled through
    the async engine every `poll_s` (or every BACKSTOP_S while Redis pub/sub wakes it), the
    states loaded when it moves, the watcher's table rebuilt from them (off the loop)."""

    def __init__(self, settings: Settings, watcher: ManifestWatcher) -> None:
        self._settings = settings
        self._watcher = watcher
        self._poll_s = settings.live_poll_s
        self.version: int | None = None
        self.states: dict[str, RouteState] | None = None
        self.problem: str | None = None  # why the live state cannot be read, for status
        self._engine: AsyncEngine | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._subscribed = False
        self._redis_problem: str | None = None
        self._retry = False

    @property
    def enabled(self) -> bool:
        return self._poll_s > 0

    async def start(self) -> None:
        """The live state now (a process never serves by the file when the live state says
        otherwise, waiting at most STARTUP_WAIT_S for it), then follow it."""
        if not self.enabled or self._tasks:
            return
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        try:
            await asyncio.wait_for(self.refresh(), STARTUP_WAIT_S)
        except TimeoutError:
            self._problem(f"no answer from the state database in {STARTUP_WAIT_S:g}s")
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._poll(), name="live-state"))
        if self._settings.redis_url:
            self._tasks.append(loop.create_task(self._listen(), name="live-state-redis"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def _engine_now(self) -> AsyncEngine:
        if self._engine is None:
            from gateway.state import state_settings
            from shared.db.engine import create_async_engine

            # One connection; never traced: a poll is no request's work, and its spans
            # would bury the requests' own.
            quiet = state_settings(self._settings, 1).model_copy(update={"tracing": "off"})
            quiet._span_exporter = None  # a test's exporter, carried by the copy
            quiet._tracing = None
            self._engine = create_async_engine(quiet)
        return self._engine

    def _problem(self, problem: str) -> None:
        if self.problem is None:  # once an outage, not at every poll (its words vary)
            log.warning("live state: %s; still serving the last good table", problem)
        self.problem = problem

    async def refresh(self) -> bool:
        """Reload if the version moved; True when a new table was swapped in."""
        if not self.enabled:
            return False
        if self._lock is None:  # called before start() (a server run without lifespan)
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.version is None and never_made(self._settings.state_url):
                return False
            try:
                async with self._engine_now().connect() as conn:
                    version = await conn.run_sync(read_version)
                    if version == self.version and version is not None and not self._retry:
                        loaded = None
                    else:
                        loaded = await _load(conn) if version is not None else None
            except SQLAlchemyError as exc:
                from gateway.state import UPGRADE

                if is_unavailable(exc):
                    self._problem(f"the state database is unavailable ({unavailable_reason(exc)})")
                else:
                    self._problem(
                        f"figway's state tables cannot be read ({unavailable_reason(exc)}); "
                        f"run `{UPGRADE}`"
                    )
                return False
            if self.problem is not None:
                log.info("live state: the state database answers again")
                self.problem = None
            if version is not None and version == self.version and not self._retry:
                return False
            if loaded is None:  # never created, or removed (by hand: the file decides)
                if self.version is None and self.states is None:
                    return False  # never created: the file decides, as it did
                version, states = None, None
            else:
                version, states = loaded
            self.version, self.states = version, states
            # Building a table compiles every rule: off the loop.
            swapped = await asyncio.to_thread(self._watcher.set_states, states)
            # Not taken (its table failed the check): tried again at the next poll.
            self._retry = bool(self._watcher.live_problems)
            return swapped

    async def _poll(self) -> None:
        assert self._wake is not None
        while True:
            wait = max(BACKSTOP_S, self._poll_s) if self._subscribed else self._poll_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            try:
                await self.refresh()
            except Exception:  # the follower must outlive any one bad reload
                log.exception("live state reload failed")

    async def _listen(self) -> None:
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        assert self._wake is not None and self._settings.redis_url
        while True:
            client = Redis.from_url(self._settings.redis_url, socket_connect_timeout=2)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._subscribed = True
                    self._wake.set()  # what was published while not subscribed
                    if self._redis_problem is not None:
                        log.info("live state: subscribed to Redis again")
                        self._redis_problem = None
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
            except (RedisError, OSError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                if self._redis_problem is None:  # once an outage
                    log.warning("live state: Redis pub/sub lost (%s); polling meanwhile", problem)
                self._redis_problem = problem
            finally:
                self._subscribed = False
                await client.aclose()
            await asyncio.sleep(1.0)


async def _load(conn: AsyncConnection) -> tuple[int, dict[str, RouteState]] | None:
    return await conn.run_sync(load_live)
