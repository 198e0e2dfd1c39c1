"""Prometheus figures of one gateway process, in its own registry (no global state)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


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

    def render(self) -> bytes:
        return generate_latest(self.registry)
