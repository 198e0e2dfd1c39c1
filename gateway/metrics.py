"""Prometheus figures of one gateway process, in its own registry (no global state)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# A healthy loop is late by well under a millisecond; a blocked one by the length of the
# blocking call, so the buckets reach from timer noise to seconds.
LOOP_LAG_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10,
)  # fmt: skip
LOOP_LAG_INTERVAL_S = 0.02


class GatewayMetrics:
    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("route", "owner", "status")
        self.requests = Counter(
            "figway_requests_total",
            "Requests served, by route, owner and status",
            labels,
            registry=self.registry,
        )
        self.errors = Counter(
            "figway_request_errors_total",
            "Responses with a 5xx status",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "figway_request_duration_seconds",
            "Time to the end of the response",
            ("route", "owner"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.routed = Counter(
            "figway_canary_requests_total",
            "Requests whose side was not simply the route's owner: a canary's pick for the "
            "caller (how=canary) or an admin's X-Figway-Side (how=forced), by route and side",
            ("route", "side", "how"),
            registry=self.registry,
        )
        self._routed: dict[tuple[str, str, str], Any] = {}
        self.flips = Counter(
            "figway_flips_total",
            "Route ownership changes this process picked up",
            ("to",),
            registry=self.registry,
        )
        self.rejected = Counter(
            "figway_legacy_rejected_total",
            "Legacy requests answered by the gateway itself (503 at capacity, 504 timeout)",
            ("status",),
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "figway_rate_limited_total",
            "Requests refused with 429 by a rate limit of the manifest, by route",
            ("route",),
            registry=self.registry,
        )
        self.rate_limit_unchecked = Counter(
            "figway_rate_limit_unchecked_total",
            "Requests to a rate-limited route served uncounted: Redis did not answer",
            registry=self.registry,
        )
        self.auto_rollbacks = Counter(
            "figway_auto_rollbacks_total",
            "Routes this process rolled back to flask because a gate tripped "
            "(gateway/rollback.py), by route and gate (error_rate, p99_ratio)",
            ("route", "gate"),
            registry=self.registry,
        )
        self.legacy_in_flight = Gauge(
            "figway_legacy_in_flight",
            "Legacy requests running or waiting for a thread",
            registry=self.registry,
        )
        self.manifest_ok = Gauge(
            "figway_manifest_valid",
            "1 while the manifest on disk is the one being served",
            registry=self.registry,
        )
        self.manifest_generation = Gauge(
            "figway_manifest_generation",
            "Manifest versions loaded by this process",
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "figway_event_loop_lag_seconds",
            f"How late a {LOOP_LAG_INTERVAL_S:g} s sleep on the event loop wakes up",
            buckets=LOOP_LAG_BUCKETS,
            registry=self.registry,
        )

    def observe(self, route: str, owner: str, status: int, seconds: float) -> None:
        # Resolving labels costs more than counting; the children are kept per key.
        key = (route, owner, status)
        children = self._children.get(key)
        if children is None:
            code = str(status)
            children = self._children[key] = (
                self.requests.labels(route, owner, code),
                self.errors.labels(route, owner, code) if status >= 500 else None,
                self.latency.labels(route, owner),
            )
        requests, errors, latency = children
        requests.inc()
        if errors is not None:
            errors.inc()
        latency.observe(seconds)

    def chosen(self, route: str, side: str, how: str) -> None:
        """One request of a canary route (or forced) served by `side`; its status, latency
        and side are in figway_requests_total as any request's."""
        key = (route, side, how)
        child = self._routed.get(key)
        if child is None:
            child = self._routed[key] = self.routed.labels(route, side, how)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def loop_lag_monitor(self) -> LoopLagMonitor:
        return LoopLagMonitor(self.loop_lag, LOOP_LAG_INTERVAL_S)


class LoopLagMonitor:
    """A task that sleeps `interval_s` again and again and records how late it woke: the
    time some other callback held the loop (a blocking call, a long CPU burst) that every
    request on this process waited for too."""

    def __init__(self, histogram: Histogram, interval_s: float) -> None:
        self._histogram = histogram
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        observe, interval = self._histogram.observe, self._interval_s
        while True:
            started = loop.time()
            await asyncio.sleep(interval)
            observe(max(0.0, loop.time() - started - interval))
