"""Gates: when the watchdog (gateway/rollback.py) rolls a route back to flask on its own.

Declared in the manifest, defaults at the top, overridden per route:

    gates: {error_rate: 5%, p99_ratio: 1.5, window: 60s, min_requests: 20, watch: 10m}
    routes:
      - {route: "GET /api/videos", ..., gates: {error_rate: 1%}}   # over the top's
      - {route: "POST /api/upload", ..., gates: none}              # never rolled back

A route is watched while it is in canary (a weight above 0) or for `watch` after its owner
became fastapi (the last flip to fastapi in the history). Over the last `window`, in each
gateway process (its own traffic), the route trips when

- fastapi's 5xx share is above `error_rate`, once fastapi served `min_requests` there; or
- fastapi's p99 is above `p99_ratio` x flask's p99, both sides having served
  `min_requests` there, and above `p99_floor` (100 ms by default: a p99 of 30 ms against
  15 ms is no reason to roll back on its own, and at such latencies a p99 of a few dozen
  requests is mostly the machine's noise: a pause of the collector, a busy core).

A route fully on fastapi has no flask traffic to compare with: the error gate alone
watches it. `error_rate: off` or `p99_ratio: off` turns one gate off; `gates: none` at
the top turns the defaults off (routes may still declare their own, over DEFAULTS).

With nothing in the manifest, DEFAULTS apply: protection without writing anything. A
route with no traffic, or less than `min_requests` in the window, never trips.

Parsed here without any other gateway module (the manifest imports this one).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

NONE = "none"  # `gates: none`: never rolled back automatically
OFF = "off"  # one gate off: `error_rate: off`, `p99_ratio: off`
MAX_WINDOW_S = 600  # one bucket per second, kept per watched route and side
MAX_WATCH_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Gates:
    error_rate: float | None = 0.05  # a fraction; None: the error gate is off
    p99_ratio: float | None = 1.5  # None: the latency gate is off
    window_s: int = 60
    min_requests: int = 20
    watch_s: float = 600.0
    p99_floor_s: float = 0.1

    def describe(self) -> dict[str, Any]:
        """As the status JSON shows it."""
        return {
            "error_rate": self.error_rate,
            "p99_ratio": self.p99_ratio,
            "window_s": self.window_s,
            "min_requests": self.min_requests,
            "watch_s": self.watch_s,
            "p99_floor_ms": round(self.p99_floor_s * 1000, 3),
        }


DEFAULTS = Gates()

# The manifest's names for Gates' fields.
_KEYS = {
    "error_rate": "error_rate",
    "p99_ratio": "p99_ratio",
    "window": "window_s",
    "min_requests": "min_requests",
    "watch": "watch_s",
    "p99_floor": "p99_floor_s",
}
assert set(_KEYS.values()) == {f.name for f in fields(Gates)}

_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """`60s`, `10m`, `1h`, `50ms`, or a number of seconds; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError
        seconds = float(match["n"]) * _UNITS[match["unit"] or "s"]
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError
    return seconds


def _percentage(value: Any) -> float | None:
    if isinstance(value, str) and value.strip().lower() == OFF:
        return None
    text = str(value).strip() if isinstance(value, str) else ""
    if not text.endswith("%"):
        raise ValueError("a percentage such as '5%' (or 'off')")
    number = float(text[:-1])
    if not 0 <= number < 100:
        raise ValueError("a percentage from 0% to below 100% (or 'off')")
    return number / 100


def _ratio(value: Any) -> float | None:
    if isinstance(value, str) and value.strip().lower() == OFF:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 1:
        raise ValueError("a number above 1 such as 1.5 (or 'off')")
    return float(value)


def _field(key: str, value: Any) -> Any:
    """One field's value as Gates holds it; ValueError saying what is expected."""
    if key == "error_rate":
        try:
            return _percentage(value)
        except ValueError as exc:
            if exc.args:
                raise
            raise ValueError("a percentage such as '5%' (or 'off')") from None
    if key == "p99_ratio":
        return _ratio(value)
    if key == "min_requests":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("a whole number of requests, 1 or more")
        return value
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise ValueError("a duration such as '60s', '10m' or '50ms'") from None
    if key == "window":
        if seconds != int(seconds) or not 1 <= seconds <= MAX_WINDOW_S:
            raise ValueError(f"whole seconds from 1s to {MAX_WINDOW_S}s")
        return int(seconds)
    if key == "watch" and seconds > MAX_WATCH_S:
        raise ValueError(f"at most {MAX_WATCH_S // 86400}d")
    return seconds


def parse_gates(raw: Any, base: Gates | None) -> tuple[Gates | None, list[str]]:
    """A `gates:` value over `base` (the top's, or DEFAULTS for the top itself): the Gates
    (None for `none`), and the problems (then the result is `base`)."""
    if isinstance(raw, str) and raw.strip().lower() == NONE:
        return None, []
    if not isinstance(raw, Mapping):
        return base, [
            "gates: expected a mapping (error_rate, p99_ratio, window, min_requests, watch, "
            f"p99_floor) or '{NONE}'"
        ]
    problems: list[str] = []
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        name = _KEYS.get(str(key))
        if name is None:
            problems.append(f"gates: unknown gate {key!r} (known: {', '.join(_KEYS)})")
            continue
        try:
            changes[name] = _field(str(key), value)
        except ValueError as exc:
            problems.append(f"gates: {key} {value!r}: {exc}")
    if problems:
        return base, problems
    return replace(base or DEFAULTS, **changes), []
