"""Shadow traffic: a route in mode `shadow` is served by its owner as ever, and a sample of
its safe requests (GET, HEAD) is replayed, off the request path, against the other side and
the two answers compared (gateway/compare.py), field by field.

On the request path (Gateway._http), only what is cheap: the sample's coin toss, a copy of
the scope, and the owner's answer appended to a buffer as it streams to the caller (a body
past `FIGWAY_SHADOW_MAX_BODY` is not compared: `skipped`). Once the answer is complete, the
job is put on a queue bounded in jobs and in bytes, never waited on (full: `dropped`). A
fixed number of worker tasks replays each job in-process: the other side's app, and the
owner a second time, with the caller's headers and cookies (the same user), no body, a
fresh receive and send.

The noise filter is Diffy's: a field (`$.generated_at`) that differs between the owner's two
answers is noise for that route, counted. A field is reported when the rate at which the
other side differs there exceeds the noise rate by more than FIGWAY_SHADOW_ABSOLUTE_THRESHOLD
percentage points (default 0.03) and by more than FIGWAY_SHADOW_RELATIVE_THRESHOLD percent of
the noise rate (default 20); a field never noisy is reported at its first difference. A
comparison matches when every field where the other side differs is noise: the owner's
second answer differs there too, or the field is not reported.

Replays never take from the callers: only bodiless GETs and HEADs; the queue is bounded and
never waited on; with every thread of the legacy side busy, a job is dropped, not run.

Each process keeps its figures in memory and writes its totals every FIGWAY_SHADOW_FLUSH
seconds to figway_shadow_routes and figway_shadow_fields (the async engine, off the request
path); `figway shadow-report` and GET /_figway/shadow sum them over the fleet's processes.
Turning shadowing on and off is the live state's (figway_routes.mode and sample):
`set_shadow` is where `figway shadow` and POST /_figway/shadow reach it. Turning a route's
shadowing on again starts its figures afresh; turning it off keeps them for the report.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Scope

from gateway import compare
from gateway.changes import ChangeRefused, Done, change_states
from gateway.state.tables import shadow_fields, shadow_routes
from gateway.table import FASTAPI, FLASK, SAFE_METHODS, SERVE, SHADOW, RouteState
from shared.clock import utcnow

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlalchemy.orm import Session

    from shared.config import Settings

log = logging.getLogger("figway.shadow")

# Bodies up to this size are compared on the event loop (well under a millisecond); larger
# ones in a thread, so a big JSON answer never holds up the callers' requests.
_ON_LOOP_BYTES = 16 * 1024
# How long a replay waits for a moment with no caller in the process before it runs anyway:
# on a busy process replays run in the gaps, on one never idle (long streams) at a bounded
# pace, a few a second per worker.
YIELD_S = 0.05
# Bounds on what a route remembers: its distinct fields, and an example value's length.
MAX_FIELDS = 200
FIELD_CHARS = 255
VALUE_CHARS = 200
TARGET_CHARS = 500


def process_id() -> str:
    """This process among the fleet's: its host, pid and a token of this start."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def set_shadow(
    path: Path,
    sessions: Callable[[], Session],
    route: str,
    sample: int | None,
    *,
    actor: str,
    source: str,
    reason: str | None = None,
    publish: Callable[[int], None] | None = None,
) -> Done:
    """Shadow `route` (`sample` percent of its safe requests), or stop (`sample` None),
    fleet-wide: the live state's mode and sample (gateway/live.py; created from the
    manifest at `path` if it does not exist), with the audit row; every gateway follows
    within its poll, at once when `publish` tells them. `route` and `sample` are checked
    before (check_shadow_request), so a wrong one is told as such."""

    started = False

    def edit(states: dict[str, RouteState]) -> dict[str, RouteState]:
        nonlocal started
        started = sample is not None and states[route].mode != SHADOW
        mode = SERVE if sample is None else SHADOW
        return {route: replace(states[route], mode=mode, sample=sample)}

    done = change_states(
        path,
        edit,
        sessions=sessions,
        actor=actor,
        source=source,
        action="shadow",
        reason=reason,
        publish=publish,
    )
    if started:
        # A new period of shadowing (the twin was fixed, say): the route's figures start
        # afresh, the rows of every process (dead ones too) gone; the live processes drop
        # theirs as they follow the change (Shadow.started).
        _forget_figures(sessions, route)
    return done


def _forget_figures(sessions: Callable[[], Session], route: str) -> None:
    session = sessions()
    try:
        for table in (shadow_fields, shadow_routes):
            session.execute(delete(table).where(table.c.route == route))
        session.commit()
    except SQLAlchemyError as exc:
        # The mode is set (and recorded): the report mixes in the last period's figures
        # from processes gone, until they are removed.
        log.warning("shadow traffic: %s's earlier figures not removed: %s", route, exc)
    finally:
        session.close()


def check_shadow_request(route: str, sample: int | None, routes: Iterable[str] | None) -> str:
    """The route's manifest key when `route` may be shadowed at `sample`; ChangeRefused
    saying why not: only GET routes (a HEAD is its GET's), sample 1 to 100."""
    from gateway import manifest as mf

    key = mf.normalize_key(route)
    method, _, path = key.partition(" ")
    if not path.startswith("/"):
        raise ChangeRefused(f'{route!r}: a route is "METHOD PATH", as in the manifest')
    if sample is not None and not 1 <= sample <= 100:
        raise ChangeRefused(f"sample {sample}: a percentage, 1 to 100")
    if method not in SAFE_METHODS:
        raise ChangeRefused(
            f"{key}: only GET routes are shadowed; replaying a {method} would write twice"
        )
    if routes is not None and key not in set(routes):
        raise ChangeRefused(f"no route {key!r} in the manifest")
    return key


@dataclass(slots=True)
class Capture:
    """The caller's request and the owner's answer, as it streams (gateway/app.py)."""

    scope: Scope
    owner: str
    route: str
    limit: int
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    too_big: bool = False
    complete: bool = False

    def sent(self, message: Message) -> None:
        """The owner's answer as sent to the caller: appended, never awaited."""
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", ()))
        elif kind == "http.response.body":
            if not self.too_big:
                body = message.get("body", b"")
                self.size += len(body)
                if self.size > self.limit:
                    self.too_big = True
                    self.chunks.clear()
                elif body:
                    self.chunks.append(body)
            if not message.get("more_body", False):
                self.complete = True


@dataclass(slots=True)
class Example:
    method: str
    target: str
    owner: str
    other: str
    at: Any


@dataclass(slots=True)
class FieldStats:
    differing: int = 0  # the other side's answer differed here
    noise: int = 0  # the owner's second answer differed here
    example: Example | None = None


@dataclass(slots=True)
class RouteStats:
    compared: int = 0
    matched: int = 0
    differing: int = 0
    dropped: int = 0
    skipped: int = 0
    errors: int = 0
    fields: dict[str, FieldStats] = field(default_factory=dict)
    examples: int = 0  # fields with an example kept


def answer(status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> compare.Answer:
    """An ASGI answer as the comparison reads it."""
    named: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in headers:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "set-cookie":
            cookies.append(value)
        else:
            named[name] = f"{named[name]}, {value}" if name in named else value
    return compare.Answer(status, named, tuple(cookies), body)


def _replay_scope(scope: Scope) -> Scope:
    """The caller's request again (its headers, so its cookies and user): no body, and only
    what the ASGI spec says, so neither app sees what the other left in the scope."""
    keep = (
        "type",
        "asgi",
        "http_version",
        "method",
        "scheme",
        "path",
        "raw_path",
        "query_string",
        "root_path",
        "headers",
        "client",
        "server",
        "state",
    )
    fresh = {k: scope[k] for k in keep if k in scope}
    # What the gateway itself hands every side (the Flask session's codec, ...): its keys
    # are figway's, never the ASGI spec's.
    fresh.update((k, v) for k, v in scope.items() if k.startswith("figway"))
    fresh["headers"] = [
        (n, v) for n, v in scope.get("headers", ()) if n.lower() != b"content-length"
    ]
    return fresh


class Shadow:
    """One process's shadow traffic: the queue, its workers, the figures and their flush."""

    def __init__(
        self,
        settings: Settings,
        sides: Mapping[str, ASGIApp],
        *,
        legacy_busy: Callable[[], bool] = lambda: False,
        engine_factory: Callable[[], AsyncEngine] | None = None,
    ) -> None:
        self.max_body = settings.shadow_max_body
        self.timeout_s = settings.shadow_timeout_s
        self.flush_s = settings.shadow_flush_s
        self.examples = settings.shadow_examples
        self.absolute = settings.shadow_absolute_threshold
        self.relative = settings.shadow_relative_threshold
        self.workers = settings.shadow_workers
        self.queue: asyncio.Queue[Capture] = asyncio.Queue(settings.shadow_queue)
        # The answers the queue holds, in bytes, and the most it may: a bound on memory.
        self.queued_bytes = 0
        self.max_queued_bytes = settings.shadow_queue_bytes
        # The callers being served in this process (Gateway._http counts them), and the
        # moment there are none: a replay runs in the gaps between the callers' requests.
        self.callers = 0
        self.idle = asyncio.Event()
        self.routes: dict[str, RouteStats] = {}
        self.process = process_id()
        self._sides = sides
        # The legacy side's threads are the callers' first: a replay there waits for none
        # of them and takes none a caller needs (dropped instead, counted).
        self._legacy_busy = legacy_busy
        self._flushing = asyncio.Lock()  # the flusher's and the admin API's, one at a time
        self._settings = settings
        self._engine_factory = engine_factory
        self._engine: AsyncEngine | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the workers', while they run
        self._changed = False  # figures not yet written

    # The request path.

    def sampled(self, percent: int) -> bool:
        return percent >= 100 or random.random() * 100 < percent

    def capture(self, scope: Scope, owner: str, route: str) -> Capture | None:
        """What to fill while the owner answers; None (skipped) for a request that carries
        a body: only a bodiless GET or HEAD is replayed."""
        for name, value in scope.get("headers", ()):
            if (name == b"content-length" and value.strip() not in (b"", b"0")) or (
                name == b"transfer-encoding"
            ):
                self._stats(route).skipped += 1
                self._changed = True
                return None
        return Capture(_replay_scope(scope), owner, route, self.max_body)

    def submit(self, capture: Capture) -> None:
        """The owner's answer is complete: queue its replay, never waiting."""
        stats = self._stats(capture.route)
        self._changed = True
        if capture.too_big or not capture.complete:
            stats.skipped += 1
            return
        self.ensure_running()
        if self.queued_bytes + capture.size > self.max_queued_bytes:
            stats.dropped += 1
            return
        try:
            self.queue.put_nowait(capture)
        except asyncio.QueueFull:
            stats.dropped += 1
            return
        self.queued_bytes += capture.size

    def started(self, routes: Iterable[str]) -> None:
        """These routes were just put in shadow mode (they were not): a new period, whose
        figures start afresh (set_shadow removed the rows; the next flush writes this
        process's anew). Called from the thread that swapped the table: the figures are
        the event loop's to change, while the workers run."""
        routes = [route for route in routes if route in self.routes]
        if not routes:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._forget, routes)
        else:
            self._forget(routes)

    def _forget(self, routes: list[str]) -> None:
        for route in routes:
            if self.routes.pop(route, None) is not None:
                self._changed = True

    def _stats(self, route: str) -> RouteStats:
        stats = self.routes.get(route)
        if stats is None:
            stats = self.routes[route] = RouteStats()
        return stats

    # The workers.

    @property
    def tasks(self) -> tuple[asyncio.Task[None], ...]:
        """The workers and the flusher, while they run."""
        return tuple(self._tasks)

    def ensure_running(self) -> None:
        if self._tasks:
            return
        loop = self._loop = asyncio.get_running_loop()
        # Started by the first sampled request: in a context of their own, not its (its
        # trace span, its client's state), which every later replay would inherit.
        fresh = contextvars.Context()
        self._tasks = [
            loop.create_task(self._work(), name=f"shadow-{i}", context=fresh.copy())
            for i in range(self.workers)
        ]
        self._tasks.append(
            loop.create_task(self._flush_every(), name="shadow-flush", context=fresh.copy())
        )

    async def stop(self) -> None:
        """At shutdown: the workers cancelled (what is queued is dropped), the figures
        written a last time, the engine disposed."""
        tasks, self._tasks = self._tasks, []
        self._loop = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # What was queued is dropped; a queue and a lock of their own for the next event
        # loop, if the app is started again (each test client's lifespan is one).
        self.queue = asyncio.Queue(self.queue.maxsize)
        self.queued_bytes = 0
        self.idle = asyncio.Event()
        try:
            await asyncio.wait_for(self.flush(), timeout=5.0)
        except Exception:  # the state database is down: these figures are lost
            log.warning("shadow traffic: the last figures could not be written", exc_info=True)
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        self._flushing = asyncio.Lock()

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            self.queued_bytes -= job.size
            try:
                await self.replay(job)
            except Exception:
                self._stats(job.route).errors += 1
                self._changed = True
                log.warning("shadow replay of %s failed", job.route, exc_info=True)
            finally:
                self.queue.task_done()

    async def replay(self, job: Capture) -> None:
        """Replay `job` on the other side and on its owner again, and compare."""
        stats = self._stats(job.route)
        other_side = FASTAPI if job.owner == FLASK else FLASK
        async with asyncio.timeout(self.timeout_s):
            await self._yield_to_callers()
            if self._legacy_busy():  # both replays call it (the owner or the other side)
                stats.dropped += 1
                self._changed = True
                return
            other = await self._call(other_side, job.scope)
            await self._yield_to_callers()
            again = await self._call(job.owner, job.scope)
        self._changed = True
        if other is None or again is None:
            stats.skipped += 1
            return
        owner = answer(job.status, job.headers, b"".join(job.chunks))
        big = len(owner.body) + len(other.body) + len(again.body) > _ON_LOOP_BYTES
        if big:
            raw, noise = await asyncio.to_thread(_compare, owner, other, again)
        else:
            raw, noise = _compare(owner, other, again)
        self.record(job, raw, noise)

    async def _yield_to_callers(self) -> None:
        """Wait, YIELD_S at most, for a moment when this process serves no caller."""
        if not self.callers:
            return
        self.idle.clear()
        try:
            async with asyncio.timeout(YIELD_S):
                await self.idle.wait()
        except TimeoutError:
            pass  # never idle: run anyway, the pace bounded by the wait

    def record(self, job: Capture, raw: list[compare.Difference], noise: set[str]) -> None:
        """One comparison's figures: `raw`, where the other side differed; `noise`, the
        fields where the owner's second answer differed from its first."""
        stats = self._stats(job.route)
        stats.compared += 1
        for name in noise:
            found = self._field(stats, name)
            if found is not None:
                found.noise += 1
        real = False
        for difference in raw:
            name = difference.field[:FIELD_CHARS]
            found = self._field(stats, name)
            if found is None:
                real = True  # past the bound on fields: counted, not named
                continue
            found.differing += 1
            if name in noise:
                continue  # noise: the owner's second answer differs there too
            if not reported(
                stats.compared, found.differing, found.noise, self.absolute, self.relative
            ):
                continue  # a field of the route's noise: differs as often on the owner
            real = True
            if found.example is None and stats.examples < self.examples:
                stats.examples += 1
                owner_value, other_value = _values(difference)
                found.example = Example(
                    job.scope["method"],
                    _target(job.scope)[:TARGET_CHARS],
                    owner_value,
                    other_value,
                    utcnow(),
                )
        if real:
            stats.differing += 1
        else:
            stats.matched += 1

    def _field(self, stats: RouteStats, name: str) -> FieldStats | None:
        found = stats.fields.get(name)
        if found is None and len(stats.fields) < MAX_FIELDS:
            found = stats.fields[name] = FieldStats()
        return found

    async def _call(self, side: str, scope: Scope) -> compare.Answer | None:
        """One side's answer to the replayed request; None when its body is too big."""
        app = self._sides[side]
        scope = dict(scope)
        scope["headers"] = list(scope["headers"])
        head_as_get = side == FASTAPI and scope["method"] == "HEAD"
        if head_as_get:
            scope["method"] = "GET"  # as Gateway._http: FastAPI answers HEAD as GET
        done = asyncio.Event()
        asked = False
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0
        too_big = False

        async def receive() -> Message:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # as a client that stays until the answer is complete
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, headers, size, too_big
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
            elif message["type"] == "http.response.body":
                body = b"" if head_as_get else message.get("body", b"")
                size += len(body)
                if size > self.max_body:
                    too_big = True
                    chunks.clear()
                elif body and not too_big:
                    chunks.append(body)
                if not message.get("more_body", False):
                    done.set()

        try:
            await app(scope, receive, send)
        finally:
            done.set()
        return None if too_big else answer(status, headers, b"".join(chunks))

    # The figures.

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            try:
                await self.flush()
            except Exception:  # the state database is down: the next flush writes it all
                log.warning("shadow traffic: figures not written", exc_info=True)

    async def flush(self) -> None:
        """Write this process's totals (its rows replaced) to the state database."""
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        if not self._changed:
            return
        self._changed = False
        now = utcnow()
        route_rows = [
            {
                "process": self.process,
                "route": route,
                "compared": s.compared,
                "matched": s.matched,
                "differing": s.differing,
                "dropped": s.dropped,
                "skipped": s.skipped,
                "errors": s.errors,
                "updated_at": now,
            }
            for route, s in self.routes.items()
        ]
        field_rows = [
            {
                "process": self.process,
                "route": route,
                "field": name,
                "differing": f.differing,
                "noise": f.noise,
                "example_method": f.example.method if f.example else None,
                "example_target": f.example.target if f.example else None,
                "example_owner": f.example.owner if f.example else None,
                "example_other": f.example.other if f.example else None,
                "example_at": f.example.at if f.example else None,
            }
            for route, s in self.routes.items()
            for name, f in s.fields.items()
        ]
        engine = self._engine_or_new()
        try:
            async with engine.begin() as db:
                for table in (shadow_fields, shadow_routes):
                    await db.execute(delete(table).where(table.c.process == self.process))
                if route_rows:
                    await db.execute(insert(shadow_routes), route_rows)
                if field_rows:
                    await db.execute(insert(shadow_fields), field_rows)
        except BaseException:
            self._changed = True  # written next time
            raise

    def _engine_or_new(self) -> AsyncEngine:
        if self._engine is None:
            if self._engine_factory is not None:
                self._engine = self._engine_factory()
            else:
                from gateway.state import state_settings
                from shared.db.engine import create_async_engine

                self._engine = create_async_engine(state_settings(self._settings, pool_size=1))
        return self._engine


# What became of a route's sampled requests, as figway_shadow_requests_total's `result`.
RESULTS = ("matched", "differing", "dropped", "skipped", "errors")


class ShadowCollector(Collector):
    """figway_shadow_requests_total{route, result}: this process's shadow figures (the ones
    it flushes to figway_shadow_routes) as Prometheus counters, read when scraped, so the
    request path counts nothing more. A route shadowed anew starts from 0, which rate()
    takes as a counter reset, as it takes a restart."""

    def __init__(self, shadow: Shadow) -> None:
        self._shadow = shadow

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "figway_shadow_requests",
            "Sampled requests of shadowed routes in this process, by what became of them: "
            "replayed and matched or differing, dropped (queue full, legacy threads busy), "
            "skipped (a body, too big, incomplete) or errors",
            labels=("route", "result"),
        )
        for route, stats in list(self._shadow.routes.items()):
            for result in RESULTS:
                family.add_metric((route, result), getattr(stats, result))
        yield family


def _compare(
    owner: compare.Answer, other: compare.Answer, again: compare.Answer
) -> tuple[list[compare.Difference], set[str]]:
    raw = list(compare.differences(owner, other))
    # Every time, not only when the other side differs: the noise rate is per comparison.
    noise = {d.field[:FIELD_CHARS] for d in compare.differences(owner, again)}
    return raw, noise


def _target(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scope['path']}?{query}" if query else str(scope["path"])


def _values(difference: compare.Difference) -> tuple[str, str]:
    """The owner's and the other side's values, for an example, truncated."""
    if difference.how == compare.ONLY_A:
        a, b = "(present)", "(absent)"
    elif difference.how == compare.ONLY_B:
        a, b = "(absent)", "(present)"
    elif difference.how == compare.LENGTHS:
        a, b = f"{difference.a} items", f"{difference.b} items"
    else:
        a, b = difference.a, difference.b
    return _cut(a), _cut(b)


def _cut(value: str) -> str:
    return value if len(value) <= VALUE_CHARS else value[: VALUE_CHARS - 3] + "..."


def reported(compared: int, differing: int, noise: int, absolute: float, relative: float) -> bool:
    """Diffy's test of a field: its difference rate exceeds its noise rate by more than
    `absolute` percentage points and by more than `relative` percent of the noise rate."""
    if compared <= 0 or differing <= 0:
        return False
    excess = 100 * (differing - noise) / compared  # percentage points
    if excess <= absolute:
        return False
    return noise == 0 or 100 * (differing - noise) / noise > relative


def shadow_report(
    session: Session, route: str | None, absolute: float, relative: float
) -> list[dict[str, Any]]:
    """The fleet's figures per route (summed over processes), for `figway shadow-report`
    and GET /_figway/shadow: requests compared, the match rate, the noisy fields, and the
    fields reported with their first example."""
    routes_q = select(shadow_routes)
    fields_q = select(shadow_fields)
    if route is not None:
        routes_q = routes_q.where(shadow_routes.c.route == route)
        fields_q = fields_q.where(shadow_fields.c.route == route)
    totals: dict[str, dict[str, int]] = {}
    counters = ("compared", "matched", "differing", "dropped", "skipped", "errors")
    for row in session.execute(routes_q).mappings():
        summed = totals.setdefault(row["route"], dict.fromkeys(counters, 0))
        for name in counters:
            summed[name] += row[name]
    by_field: dict[tuple[str, str], dict[str, Any]] = {}
    for row in session.execute(fields_q).mappings():
        into = by_field.setdefault(
            (row["route"], row["field"]), {"differing": 0, "noise": 0, "example": None}
        )
        into["differing"] += row["differing"]
        into["noise"] += row["noise"]
        if row["example_at"] is not None and (
            into["example"] is None or row["example_at"] < into["example"]["at"]
        ):
            into["example"] = {
                "method": row["example_method"],
                "target": row["example_target"],
                "owner": row["example_owner"],
                "other": row["example_other"],
                "at": row["example_at"],
            }
    report = []
    for name in sorted(totals):
        t = totals[name]
        fields = {f: v for (r, f), v in by_field.items() if r == name}
        differences = [
            {
                "field": f,
                "differing": v["differing"],
                "noise": v["noise"],
                "example": _example(v["example"]),
            }
            for f, v in sorted(fields.items())
            if reported(t["compared"], v["differing"], v["noise"], absolute, relative)
        ]
        noisy = {f: v["noise"] for f, v in sorted(fields.items()) if v["noise"]}
        rate = t["matched"] / t["compared"] if t["compared"] else None
        report.append(
            {"route": name, **t, "match_rate": rate, "noise": noisy, "differences": differences}
        )
    return report


def _example(found: dict[str, Any] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {**found, "at": found["at"].isoformat()}
