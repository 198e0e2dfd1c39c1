"""What the dashboard shows, computed: each route's requests, errors and latency quantiles
per side from this process's Prometheus figures (gateway/metrics.py), and the share of
routes on fastapi over time from the audit history (figway_changes)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.metrics import GatewayMetrics
from gateway.table import FASTAPI, FLASK

SIDES = (FLASK, FASTAPI)
DASH = "\N{EN DASH}"  # no figure (yet)


@dataclass
class SideFigures:
    requests: int = 0
    errors: int = 0
    # (upper bound, cumulative count) per bucket, +Inf last, as Prometheus exposes them.
    buckets: list[tuple[float, float]] = field(default_factory=list)

    @property
    def p50_ms(self) -> float | None:
        return _ms(quantile(0.5, self.buckets))

    @property
    def p99_ms(self) -> float | None:
        return _ms(quantile(0.99, self.buckets))

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "text": self.text(),
        }

    def text(self) -> str:
        """The cell's words: `12 req · 1 err · p50 3.2 · p99 9.8 ms`, or a dash."""
        if not self.requests:
            return DASH
        errors = f" · {self.errors} err" if self.errors else ""
        return (
            f"{self.requests} req{errors} · p50 {fmt_ms(self.p50_ms)} · p99 {fmt_ms(self.p99_ms)}"
        )


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return DASH
    if ms < 10:
        return f"{ms:.1f} ms"
    return f"{ms:.0f} ms"


def quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus's histogram_quantile over cumulative buckets: the bucket the q-th
    observation falls in, linearly interpolated between its bounds (the first bucket's
    lower bound is 0); in the +Inf bucket, the highest finite bound. None: no
    observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def route_figures(metrics: GatewayMetrics) -> dict[str, dict[str, SideFigures]]:
    """Per manifest route and side (flask, fastapi): requests, 5xx and the latency
    buckets this process recorded (the gateway's own answers, 429s and the like, left
    out: no side served them)."""
    figures: dict[str, dict[str, SideFigures]] = {}

    def of(labels: Mapping[str, str]) -> SideFigures | None:
        side = labels.get("owner")
        if side not in SIDES:
            return None
        return figures.setdefault(labels["route"], {}).setdefault(side, SideFigures())

    for family in metrics.requests.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and (into := of(sample.labels)) is not None:
                into.requests += int(sample.value)
    for family in metrics.errors.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and (into := of(sample.labels)) is not None:
                into.errors += int(sample.value)
    for family in metrics.latency.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket") and (into := of(sample.labels)) is not None:
                into.buckets.append((float(sample.labels["le"]), sample.value))
    for sides in figures.values():
        for figs in sides.values():
            figs.buckets.sort()
    return figures


# --- the chart: percent of routes on fastapi over time -------------------------------------


@dataclass(frozen=True)
class Point:
    at: datetime
    percent: float
    label: str


def migration_points(
    file_owners: Mapping[str, str], rows: Sequence[Mapping[str, Any]]
) -> list[Point]:
    """The share of the manifest's routes on fastapi before the history's first change
    and after each moment of change (rows written together, a rollout's, share their
    time: one point). `rows` are the history's, newest first.

    It starts from the file's owners, except that a route the history changes starts
    from the owner its first change moved it from: without a live state the file already
    says the outcome of those changes. Routes no longer in the file are left out."""
    owners = dict(file_owners)
    if not owners or not rows:
        return []
    ordered = list(reversed(rows))
    seen: set[str] = set()
    for row in ordered:
        route = row["route"]
        if route in owners and route not in seen:
            seen.add(route)
            owners[route] = row["from"]
    points = [Point(_when(ordered[0]["at"]), _percent(owners), "start")]
    for row in ordered:
        if row["route"] in owners:
            owners[row["route"]] = row["to"]
        at = _when(row["at"])
        label = f"{row['action']} {row['route']} → {row['to']} ({row['actor']})"
        if len(points) > 1 and points[-1].at == at:
            points[-1] = Point(at, _percent(owners), f"{points[-1].label}; {label}")
        else:
            points.append(Point(at, _percent(owners), label))
    return points


def _percent(owners: Mapping[str, str]) -> float:
    return round(100 * sum(1 for o in owners.values() if o == FASTAPI) / len(owners), 1)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True)
class Chart:
    """An inline SVG's geometry (the template draws it): a step line through the points,
    carried on to `now`, over gridlines at 0, 50 and 100%."""

    width: int
    height: int
    points: list[tuple[float, float, Point]]  # x, y, the point
    path: str  # the step line's polyline points
    grid: list[tuple[float, str]]  # y, label
    left: int
    right: int
    bottom: int
    start: str
    end: str


CHART_W, CHART_H = 640, 170
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 10, 30  # room for the axes' labels
# Changes closer together than this (a demo, a test) would sit on one another on a time
# axis: they are spread evenly instead, in their order.
EVEN_BELOW_S = 60.0


def chart(points: Sequence[Point], now: datetime) -> Chart | None:
    if not points:
        return None
    first = points[0].at
    last = max(now, points[-1].at)
    span = (last - first).total_seconds()
    inner_w, inner_h = CHART_W - LEFT - RIGHT, CHART_H - TOP - BOTTOM

    def x(i: int, at: datetime) -> float:
        if span < EVEN_BELOW_S:  # all within moments: spread evenly, in order
            return LEFT + inner_w * i / len(points)
        return LEFT + inner_w * (at - first).total_seconds() / span

    def y(percent: float) -> float:
        return round(TOP + inner_h * (1 - percent / 100), 1)

    placed = [(round(x(i, p.at), 1), y(p.percent), p) for i, p in enumerate(points)]
    steps: list[str] = []
    for i, (px, py, _) in enumerate(placed):
        if i:
            steps.append(f"{px},{placed[i - 1][1]}")
        steps.append(f"{px},{py}")
    steps.append(f"{LEFT + inner_w},{placed[-1][1]}")
    return Chart(
        width=CHART_W,
        height=CHART_H,
        points=placed,
        path=" ".join(steps),
        grid=[(y(pct), f"{pct}%") for pct in (0, 50, 100)],
        left=LEFT,
        right=CHART_W - RIGHT,
        bottom=CHART_H - 8,
        start=_label(first),
        end=_label(last),
    )


def _label(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def gate_rows(gates: Any) -> list[dict[str, Any]]:
    """The automatic rollback gates of /_figway/status (`gates`), when some process
    reports them: a list of per-route dicts (or a dict of them by route); [] without."""
    if isinstance(gates, Mapping):
        gates = [
            {"route": k, **v} if isinstance(v, Mapping) else {"route": k} for k, v in gates.items()
        ]
    if not isinstance(gates, Iterable) or isinstance(gates, str | bytes):
        return []
    return [dict(g) for g in gates if isinstance(g, Mapping)]
