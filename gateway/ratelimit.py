"""Rate limits in the gateway, for both sides at once: per route (or group of routes) and
per caller, declared in the manifest, counted by the `limits` library.

The manifest gives a route `limit: "60/minute"` (limits' syntax), or the name of a group
declared at the top (`limits: {writes: "30/minute"}`: the group's routes share one budget),
or `none`; a route with no `limit` gets FIGWAY_RATE_LIMIT_DEFAULT (empty: none). The table
resolves this once per manifest version (RouteLimit on each decision), so a request to a
route without a limit pays one attribute test.

Counting: the fixed window, each window starting at a caller's first request: limits'
storage counter with its expiry (`incr`: an INCR with an EXPIRE in one Lua call in Redis,
one round trip), which is all limits' FixedWindowRateLimiter.hit does; called directly
with a key built once per request (`key_for` and the strategy's wrappers cost as much
again as the count, in memory). O(1) state per caller and budget, the cheapest per
request, and `Retry-After` is exactly when the whole budget comes back. The price is
that a caller may spend a budget at the end of one window and again at the start of the
next (up to 2N in a short span); the moving window would forbid that at the cost of a
list of N timestamps per caller and budget, and a script over it on every request.

Storage: Redis when REDIS_URL is set (shared by every process and host; keys under
FIGWAY_RATE_LIMIT_PREFIX), else this process's memory (each process counts alone: N
workers admit up to N times the limit). When Redis does not answer, requests are served
unlimited (fail open): a limiter must never turn an outage of its store into one of the
site. One log line when the outage starts, one when it ends; the requests let through
unchecked are counted (figway_rate_limit_unchecked_total).

The caller: the user its credentials verify as, else the client address
(gateway/callers.py, the one definition the canaries use too).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.storage import MemoryStorage
from starlette.types import Scope

from gateway.callers import Callers
from shared.auth.session_cookie import SessionCookieCodec
from shared.config import Settings

log = logging.getLogger("figway.gateway")

NO_LIMIT = "none"  # `limit: none` exempts a route from the default
# How long one Redis call may take before the request is served unchecked, and how long
# the limiter then leaves Redis alone before trying again (so an outage costs one failed
# call per process per interval, not one per request).
STORE_TIMEOUT_S = 0.25
STORE_RETRY_S = 2.0
_SPENT_CACHE = 4096


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """The limit a route is under: the budget it counts against (the route's own, or its
    group's) and the rate."""

    budget: str
    item: RateLimitItem
    spec: str  # as the manifest (or the default) wrote it, for status and messages
    # Worked out once, not per request: the window in seconds, the key's rate part.
    expiry: int = field(init=False, compare=False)
    _rate: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        item = self.item
        object.__setattr__(self, "expiry", item.get_expiry())
        rate = f"{item.amount}/{item.multiples}/{item.GRANULARITY.name}"
        object.__setattr__(self, "_rate", rate)

    def key(self, caller: str) -> str:
        """The counter's key: budget, caller and rate (a changed rate starts afresh)."""
        return f"{self.budget}/{caller}/{self._rate}"


def parse_limit(text: str) -> RateLimitItem:
    """One rate in limits' syntax ("60/minute", "10 per second", "100/5 minutes");
    ValueError with a readable message for anything else (several rates included)."""
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if len(items) != 1:
        raise ValueError(f"{text!r} is not a rate such as '60/minute' or '10/second'")
    return items[0]


def check_limits(
    groups: Any, limit_of: Mapping[str, Any]
) -> tuple[dict[str, str], list[tuple[str | None, str]]]:
    """The manifest's `limits` groups and each route's `limit`, checked: (the groups, by
    name), and the problems as (route or None for the groups, message)."""
    problems: list[tuple[str | None, str]] = []
    found: dict[str, str] = {}
    if groups is not None and not isinstance(groups, Mapping):
        return {}, [(None, "limits: expected a mapping of group names to rates")]
    for name, spec in (groups or {}).items():
        try:
            parse_limit(str(spec))
        except ValueError as exc:
            problems.append((None, f"limits: group {name!r}: {exc}"))
            continue
        found[str(name)] = str(spec)
    for route, limit in limit_of.items():
        if limit is None or limit == NO_LIMIT or str(limit) in found:
            continue
        try:
            parse_limit(str(limit))
        except ValueError:
            problems.append(
                (
                    route,
                    f"limit {limit!r}: neither a group under `limits` nor a rate such as "
                    f"'60/minute' (or '{NO_LIMIT}')",
                )
            )
    return found, problems


def resolve(
    routes: Mapping[str, str | None], groups: Mapping[str, str], default: str | None
) -> dict[str, RouteLimit]:
    """Each limited route's RouteLimit, from its `limit` (checked already), its group, or
    the default. Budgets: `route:<key>` for a route's own, `group:<name>` for a group's."""
    resolved: dict[str, RouteLimit] = {}
    for key, limit in routes.items():
        if limit == NO_LIMIT:
            continue
        if limit is None:
            if not default:
                continue
            resolved[key] = RouteLimit(f"route:{key}", parse_limit(default), default)
        elif limit in groups:
            resolved[key] = RouteLimit(f"group:{limit}", parse_limit(groups[limit]), limit)
        else:
            resolved[key] = RouteLimit(f"route:{key}", parse_limit(limit), limit)
    return resolved


class RateLimiter:
    """Counts a request against its route's limit; `retry_after` says whether to refuse."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_unchecked: Callable[[], None] = lambda: None,
        codec: Callable[[], SessionCookieCodec | None] = lambda: None,
        callers: Callers | None = None,
    ) -> None:
        self._settings = settings
        self._on_unchecked = on_unchecked
        # Who a request is counted as: the gateway's Callers (shared with its canaries),
        # else one of its own on `codec`.
        self.caller = callers if callers is not None else Callers(settings, codec)
        self._down_until = 0.0
        self._down = False
        self._pool: Any = None
        self._memory: _Memory | None = None
        # Redis only: counters known spent, and until when (epoch seconds). A caller past
        # its limit is refused here until the window ends, without a round trip: a flood
        # of refused requests costs Redis nothing (the window, hence the answer, is the
        # same for every process).
        self._spent: dict[str, float] = {}
        self._redis: RedisStorage | None = None
        if settings.redis_url:
            self._redis = self._redis_storage(settings.redis_url, settings.rate_limit_prefix)

    @property
    def storage(self) -> str:
        return "redis" if self._redis is not None else "memory"

    def _redis_storage(self, url: str, prefix: str) -> RedisStorage:
        # limits' async Redis storage on the `redis` package's asyncio client (no second
        # client library); the pool is ours, so its timeouts are short, nothing is
        # retried (the next request is the retry) and the lifespan closes it.
        from redis.asyncio import ConnectionPool
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._pool = ConnectionPool.from_url(
            url,
            socket_timeout=STORE_TIMEOUT_S,
            socket_connect_timeout=STORE_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
        return RedisStorage(
            "async+" + url,
            implementation="redispy",
            key_prefix=prefix.rstrip(":"),  # limits adds the ':'
            wrap_exceptions=True,
            connection_pool=cast(Any, self._pool),
        )

    def _memory_storage(self) -> _Memory:
        # Made at the first limited request (it starts a thread).
        self._memory = _Memory()
        return self._memory

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
        if self._memory is not None:
            self._memory.timer.cancel()

    async def retry_after(
        self, limit: RouteLimit, scope: Scope, caller: str | None = None
    ) -> int | None:
        """Count this request; None to serve it, or the seconds until the caller's budget
        comes back (>= 1) when it is spent. Never raises for the store's faults.
        `caller`: the request's, when the gateway has it already (a canary route)."""
        key = limit.key(caller if caller is not None else self.caller(scope))
        item = limit.item
        if self._redis is None:
            memory = self._memory or self._memory_storage()
            if memory.incr(key, limit.expiry) <= item.amount:
                return None
            return _seconds_until(memory.get_expiry(key))
        spent = self._spent.get(key)
        if spent is not None:
            if spent > time.time():
                return _seconds_until(spent)
            del self._spent[key]
        if self._down and time.monotonic() < self._down_until:
            self._on_unchecked()
            return None
        # Any fault of the store (refused, timed out, a script error) serves the request:
        # a limiter must not turn its store's outage into the site's.
        try:
            if await self._redis.incr(key, limit.expiry) <= item.amount:
                self._store_up()
                return None
            reset = await self._redis.get_expiry(key)
        except Exception as exc:
            self._store_down(exc)
            return None
        self._store_up()
        if len(self._spent) >= _SPENT_CACHE:
            self._spent.clear()  # a bound; forgetting only costs a round trip each
        self._spent[key] = reset
        return _seconds_until(reset)

    def _store_up(self) -> None:
        if self._down:
            self._down = False
            log.warning("rate limits: Redis answers again; limits apply")

    def _store_down(self, exc: Exception) -> None:
        self._on_unchecked()
        self._down_until = time.monotonic() + STORE_RETRY_S
        if not self._down:
            self._down = True
            log.warning("rate limits: Redis unreachable (%s); serving without limits", exc)


class _Memory(MemoryStorage):
    """limits' memory storage (synchronous: called from the event loop, it never waits on
    I/O), with its sweep of expired counters on one thread, every SWEEP_S.

    The storage as shipped starts a new timer thread 10 ms after any request that finds
    the last one finished: under load, a hundred thread starts a second, which cost the
    hello-world route 10% of its CPU. A counter past its window is dropped when next read
    anyway (limits checks the expiry on every hit), so the sweep only frees the memory of
    callers gone quiet, and once a second is plenty. (The async memory storage is worse:
    a task sweeping every key, started on each request.)"""

    SWEEP_S = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.timer.cancel()  # the one-shot timer the constructor started
        # Alive until close(), so the storage never starts one of its own. The sweep is
        # limits' own (private: this class is tied to limits 5's memory storage; a test
        # checks that the sweep still frees expired counters).
        sweep = self._MemoryStorage__expire_events  # type: ignore[attr-defined]
        self.timer = _Every(self.SWEEP_S, sweep)
        self.timer.start()


class _Every(threading.Timer):
    """A Timer that runs again every interval until cancelled (a daemon: never holds up
    the process's exit)."""

    def __init__(self, interval: float, function: Callable[[], None]) -> None:
        super().__init__(interval, function)
        self.daemon = True

    def run(self) -> None:
        while not self.finished.wait(self.interval):
            try:
                self.function()
            except Exception:  # the next sweep may well succeed; this thread must go on
                log.exception("rate limits: sweeping expired counters failed")

    def is_alive(self) -> bool:
        # What the storage asks on every count (to know whether to start a timer): alive
        # until cancelled. Thread's own answer takes a lock, on the hot path.
        return not self.finished.is_set()


def _seconds_until(reset: float) -> int:
    """Retry-After: whole seconds until `reset` (epoch seconds), at least 1."""
    return max(1, math.ceil(reset - time.time()))
