"""Sliding windows of one process's traffic, per watched route and side, for the gates
(gateway/gates.py, gateway/rollback.py).

A window is a ring of one-second slots, each [requests, 5xx, latency histogram...]: a
request adds to the slot of its second (reset in place when the ring comes round to it),
so the hot path allocates nothing and costs a few list stores and one bisect over a
fixed tuple of bounds. Reading sums the slots of the last `size` seconds, once a second
per watched route, off the hot path.

The histogram's buckets grow by 20% from 0.25 ms to past 60 s: a p99 taken from them
(interpolated within its bucket, as Prometheus' histogram_quantile does) is within a
bucket's width of the true one, good enough to tell 1.5x apart; a latency past the last
bound counts as that bound.

Only watched routes have windows (the watchdog adds and drops them): the other routes'
requests pay one dict lookup.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

from gateway.table import FASTAPI, FLASK


def _bounds(first: float, factor: float, last: float) -> tuple[float, ...]:
    bounds = [first]
    while bounds[-1] < last:
        bounds.append(bounds[-1] * factor)
    return tuple(bounds)


BOUNDS = _bounds(0.00025, 1.2, 60.0)
_REQUESTS, _ERRORS, _FIRST = 0, 1, 2
# Per slot: requests, 5xx, then one count per bucket and one past the last bound.
SLOT_LEN = _FIRST + len(BOUNDS) + 1
_ZERO = (0,) * SLOT_LEN


@dataclass(frozen=True, slots=True)
class Figures:
    """One side's traffic over a window."""

    requests: int
    errors: int
    p99_s: float | None  # None without requests

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def describe(self) -> dict[str, float | int | None]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": None if self.error_rate is None else round(self.error_rate, 4),
            "p99_ms": None if self.p99_s is None else round(self.p99_s * 1000, 1),
        }


def quantile(counts: list[int], q: float) -> float | None:
    """The q-quantile (0-1) of a histogram over BOUNDS (one count per bucket, the last
    past the last bound): interpolated linearly within its bucket."""
    total = sum(counts)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in enumerate(counts):
        if seen + count >= rank:
            if index >= len(BOUNDS):
                return BOUNDS[-1]
            low = BOUNDS[index - 1] if index else 0.0
            return low + (BOUNDS[index] - low) * (rank - seen) / count
        seen += count
    raise AssertionError("unreachable")  # pragma: no cover


class SideWindow:
    """One side's last `size` seconds of one route, per second."""

    __slots__ = ("_seconds", "_size", "_slots")

    def __init__(self, size: int) -> None:
        self._size = size
        self._seconds = [-1] * size  # the second each slot holds
        self._slots = [list(_ZERO) for _ in range(size)]

    @property
    def size(self) -> int:
        return self._size

    def add(self, status: int, seconds: float, now: float) -> None:
        """One request ended at `now` (time.perf_counter()), after `seconds`."""
        second = int(now)
        index = second % self._size
        slot = self._slots[index]
        if self._seconds[index] != second:
            self._seconds[index] = second
            slot[:] = _ZERO  # in place: the slot's list is kept
        slot[_REQUESTS] += 1
        if status >= 500:
            slot[_ERRORS] += 1
        slot[_FIRST + bisect_left(BOUNDS, seconds)] += 1

    def figures(self, now: float) -> Figures:
        """The last `size` seconds up to `now` (the current second's slot included)."""
        newest = int(now)
        oldest = newest - self._size + 1
        counts = [0] * (SLOT_LEN - _FIRST)
        requests = errors = 0
        for second, slot in zip(self._seconds, self._slots, strict=True):
            if not oldest <= second <= newest or not slot[_REQUESTS]:
                continue
            requests += slot[_REQUESTS]
            errors += slot[_ERRORS]
            for i, count in enumerate(slot[_FIRST:]):
                counts[i] += count
        return Figures(requests, errors, quantile(counts, 0.99))


class RouteWindow:
    """Both sides of one route."""

    __slots__ = ("fastapi", "flask")

    def __init__(self, size: int) -> None:
        self.flask = SideWindow(size)
        self.fastapi = SideWindow(size)

    def add(self, side: str, status: int, seconds: float, now: float) -> None:
        if side == FASTAPI:
            self.fastapi.add(status, seconds, now)
        elif side == FLASK:
            self.flask.add(status, seconds, now)
        # Anything else (the gateway's own 429s) is neither side's doing.
