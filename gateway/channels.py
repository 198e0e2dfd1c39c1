"""Socket.IO paths: each Engine.IO session stays on the side that opened it.

An Engine.IO session lives in one server's memory. Over long-polling it is a series of
HTTP requests carrying `?sid=`, and the server that made the sid is the only one that
knows it; over a WebSocket it is one connection. So for a `SOCKETIO /path/` route the
gateway decides once per session, not per request:

- a request without a sid opens a session on the route's owner; the gateway reads the sid
  from the handshake's answer and pins it to that side;
- a request with a pinned sid goes to its side, whoever owns the route now;
- after a flip, sessions on the old side go on for `drain_s` seconds (a flip does not cut
  a download's progress short), then the gateway ends them: a poll is answered 400, as an
  unknown session is, and a WebSocket is closed (1012, service restart); the client
  reconnects by itself, to the new owner.

Sessions are per process, as Engine.IO's are: with several gateway processes, a load
balancer must keep a client on one (the usual requirement of long-polling).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

_SID = re.compile(rb'"sid":"([^"]{1,128})"')
# A live polling session asks at least once per ping interval; one silent for this long is
# gone (its client closed the tab) and its pin is dropped.
IDLE_S = 120.0
SWEEP_EVERY = 1024


@dataclass(slots=True)
class _Pin:
    owner: str
    seen: float


def session_id(query_string: bytes) -> str | None:
    """The `sid` of an Engine.IO request, if it has one."""
    if b"sid=" not in query_string:
        return None
    found = parse_qs(query_string.decode("latin-1")).get("sid")
    return found[0] if found else None


def handshake_sid(body: bytes) -> str | None:
    """The sid of a session the server just opened, from its first answer (`0{"sid":..}`)."""
    found = _SID.search(body[:512])
    return found.group(1).decode("latin-1") if found else None


class ChannelSessions:
    def __init__(self, drain_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.drain_s = drain_s
        self._clock = clock
        self._pins: dict[str, _Pin] = {}
        self._owner: dict[str, str] = {}  # per channel, the owner last seen
        self._changed_at: dict[str, float] = {}  # per channel, when that owner was first seen
        self._opened = 0

    def __len__(self) -> int:
        return len(self._pins)

    def _observe(self, key: str, owner: str, now: float) -> None:
        # Flips are noticed here, by the first request after them: the drain counts from
        # then (the manifest watcher swaps tables within its poll interval anyway).
        if self._owner.get(key) != owner:
            if key in self._owner:
                self._changed_at[key] = now
            self._owner[key] = owner

    def _drained(self, key: str, now: float) -> bool:
        return now - self._changed_at.get(key, float("-inf")) >= self.drain_s

    def route(self, key: str, owner: str, sid: str | None) -> str | None:
        """The side for a request of channel `key` now owned by `owner`: the session's own
        side, or None when the session must end (it outlived the drain after a flip)."""
        now = self._clock()
        self._observe(key, owner, now)
        pin = self._pins.get(sid) if sid is not None else None
        if pin is None or pin.owner == owner:
            if pin is not None:
                pin.seen = now
            return owner
        if self._drained(key, now):
            del self._pins[sid]  # type: ignore[arg-type]
            return None
        pin.seen = now
        return pin.owner

    def keeps(self, key: str, side: str, owner: str) -> bool:
        """Whether a WebSocket session on `side` may go on while `owner` owns the channel."""
        now = self._clock()
        self._observe(key, owner, now)
        return side == owner or not self._drained(key, now)

    def opened(self, sid: str, owner: str) -> None:
        self._pins[sid] = _Pin(owner, self._clock())
        self._opened += 1
        if self._opened % SWEEP_EVERY == 0:
            self.sweep()

    def ended(self, sid: str) -> None:
        self._pins.pop(sid, None)

    def sweep(self) -> None:
        horizon = self._clock() - IDLE_S
        for sid in [s for s, pin in self._pins.items() if pin.seen < horizon]:
            del self._pins[sid]
