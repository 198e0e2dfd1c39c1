"""The routing decision: which side serves (method, path), by Flask's own matching rules.

The rules are compiled by gateway/rules.py, which matches exactly as werkzeug's Map (the
matcher Flask itself uses) does, so converters, static-before-variable precedence, HEAD
and slash redirects behave as in Flask, with no Flask in the process.
A table is immutable: a flip compiles a new one and swaps the reference, so a request
decides once, at its start, and finishes on that side.

What no rule serves (a 404, a 405, werkzeug's slash redirects, OPTIONS) is Flask's to
answer while the manifest keeps any route (the Socket.IO channel included) on Flask: it
then answers them as it always has. With every route on FastAPI the legacy side is not
needed at all: FastAPI answers the 404s, 405s and OPTIONS as Flask did
(shared/web/methods.py), and the gateway itself the slash redirects and 405s (the
decision's `redirect` and `allowed`), which only werkzeug's matching can tell.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from threading import Lock

from gateway.manifest import CHANNEL, Entry, Manifest
from gateway.ratelimit import RouteLimit, resolve
from gateway.rules import Matcher, compile_rule

FLASK, FASTAPI = "flask", "fastapi"
# A segment of digits, folded into one cache key; not a longer one: int() refuses past
# sys.get_int_max_str_digits() digits (a 404 in Flask), so a huge number must be matched.
_NUMBER_SEGMENT = re.compile(r"/\d{1,18}(?=/|$)")


SERVE, SHADOW = "serve", "shadow"
# What shadow traffic replays: methods that change nothing (RFC 9110's safe methods that
# carry no body); never a write, whatever the route's mode says.
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class RouteState:
    """A route's live state beyond its owner (gateway/state/tables.py `figway_routes`): a
    canary's weight, the percentage of callers (0-100) sent to fastapi whatever the owner;
    and its mode, `serve`, or `shadow`, where the owner serves and a `sample` percentage of
    its safe requests is replayed against the other side and compared."""

    owner: str
    weight: int | None = None
    mode: str = SERVE
    sample: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    owner: str
    route: str | None  # the manifest key, or None when no manifest route matched
    method: str  # the method to call the owner with (HEAD becomes GET for FastAPI)
    limit: RouteLimit | None = None  # the route's rate limit, if it has one
    # With no Flask side, what only werkzeug's matching can tell, for the gateway to
    # answer: its slash redirect (a path), or its 405 (the path's methods).
    redirect: str | None = None
    allowed: frozenset[str] = frozenset()
    # A canary's weight (0-100): the percentage of callers the gateway sends to fastapi
    # whatever the owner, each caller to its own side (gateway/canary.py); None: no canary.
    weight: int | None = None
    # A safe request (GET, HEAD) on a route in shadow mode: the percentage of them replayed
    # against the other side (gateway/shadow.py); 0 for every other request.
    shadow: int = 0


class RouteTable:
    """Compiled from a manifest; decide() is the per-request hot path."""

    CACHE_SIZE = 4096

    def __init__(
        self,
        entries: tuple[Entry, ...],
        generation: int = 0,
        limits: dict[str, RouteLimit] | None = None,
        default_limit: str | None = None,
        states: Mapping[str, RouteState] | None = None,
    ) -> None:
        self.generation = generation
        # The live state's owners (and weights and modes) override the manifest's.
        live = states or {}
        self._states = {e.key: live.get(e.key) or RouteState(e.owner) for e in entries}
        self._owners = {key: state.owner for key, state in self._states.items()}
        self._limits = limits or {}
        # Kept so that the next version of the manifest resolves against the same default.
        self.default_limit = default_limit
        # Socket.IO paths are prefixes, looked at before the rules (Gateway._http).
        self.channels = tuple((e.path, e.key) for e in entries if e.method == CHANNEL)
        rules = [compile_rule(e.path, (e.method,), e.key) for e in entries if e.method != CHANNEL]
        self._matcher = Matcher(rules)
        # The legacy side is needed while some route (or channel) is Flask's; else what no
        # rule serves goes to FastAPI, and the gateway never builds the legacy side.
        self.needs_legacy = any(
            state.owner == FLASK or state.weight is not None or state.mode == SHADOW
            for state in self._states.values()
        )
        self._unmatched = FLASK if self.needs_legacy else FASTAPI
        # Decisions repeat; a bounded LRU keeps them. Which rule a path matches does not
        # depend on the digits of a numeric segment (int and string converters take any),
        # so /api/videos/7 and /api/videos/8 share one entry, unless some rule has a digit
        # in its static text (/v/2024) or a converter that looks at them (int's min, max
        # or fixed_digits, string's length, any), where the digits do matter.
        self._fold_numbers = all(rule.digit_blind for rule in rules)
        self._cache: OrderedDict[tuple[str, str], Decision] = OrderedDict()
        self._lock = Lock()

    @classmethod
    def from_manifest(
        cls,
        manifest: Manifest,
        generation: int = 0,
        default_limit: str | None = None,
        states: Mapping[str, RouteState] | None = None,
    ) -> RouteTable:
        limits = resolve({e.key: e.limit for e in manifest.entries}, manifest.limits, default_limit)
        return cls(manifest.entries, generation, limits, default_limit, states)

    def owners(self) -> dict[str, str]:
        return dict(self._owners)

    def states(self) -> dict[str, RouteState]:
        return dict(self._states)

    def state(self, key: str) -> RouteState:
        return self._states[key]

    def owner(self, key: str) -> str:
        return self._owners[key]

    def limits(self) -> dict[str, RouteLimit]:
        return dict(self._limits)

    def decide(self, method: str, path: str) -> Decision:
        key = (method, _NUMBER_SEGMENT.sub("/0", path) if self._fold_numbers else path)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        decision = self._match(method, path)
        if decision.redirect is not None:
            return decision  # carries this path's digits: never shared by folding
        with self._lock:
            self._cache[key] = decision
            if len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
        return decision

    def _match(self, method: str, path: str) -> Decision:
        # OPTIONS is answered by Flask's automatic handler (its Allow header lists methods).
        if method == "OPTIONS":
            return Decision(self._unmatched, None, method)
        # A redirect, a 405 or a 404: Flask's own while it is there.
        outcome = self._matcher.match(path, method)
        key = outcome.endpoint
        if key is None:
            if self._unmatched == FLASK:
                return Decision(FLASK, None, method)
            # With no Flask side, werkzeug's redirects are the gateway's to send, and so are
            # its 405s on a path with a doubled slash, which werkzeug merges and Starlette
            # does not (FastAPI would answer 404); FastAPI answers every other 405 as Flask.
            allowed = outcome.allowed if "//" in path else frozenset()
            return Decision(FASTAPI, None, method, None, outcome.redirect, allowed)
        state, limit = self._states[key], self._limits.get(key)
        owner = state.owner
        # Only a safe method is ever replayed: a write would happen twice.
        shadow = 0
        if state.mode == SHADOW and method in SAFE_METHODS and state.sample:
            shadow = state.sample
        return Decision(
            owner, key, call_method(owner, method), limit, weight=state.weight, shadow=shadow
        )


def call_method(side: str, method: str) -> str:
    """The method to call `side` with for a request to a manifest route: Flask answers HEAD
    as GET without a body; the gateway does the same for FastAPI (and drops the body).
    The owner's, in a decision; the side a canary or X-Figway-Side picks, in the gateway."""
    return "GET" if method == "HEAD" and side == FASTAPI else method
