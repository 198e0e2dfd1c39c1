"""The routing decision: which side serves (method, path), by Flask's own matching rules.

The rules are compiled into a werkzeug Map, the matcher Flask itself uses, so converters,
static-before-variable precedence, HEAD and slash redirects behave exactly as in Flask.
A table is immutable: a flip compiles a new one and swaps the reference, so a request
decides once, at its start, and finishes on that side.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.routing.exceptions import RequestRedirect

from gateway.manifest import CHANNEL, Entry, Manifest
from gateway.ratelimit import RouteLimit, resolve

FLASK, FASTAPI = "flask", "fastapi"
_NUMBER_SEGMENT = re.compile(r"/\d+(?=/|$)")


@dataclass(frozen=True, slots=True)
class Decision:
    owner: str
    route: str | None  # the manifest key, or None when no manifest route matched
    method: str  # the method to call the owner with (HEAD becomes GET for FastAPI)
    limit: RouteLimit | None = None  # the route's rate limit, if it has one


class RouteTable:
    """Compiled from a manifest; decide() is the per-request hot path."""

    CACHE_SIZE = 4096

    def __init__(
        self,
        entries: tuple[Entry, ...],
        generation: int = 0,
        limits: dict[str, RouteLimit] | None = None,
        default_limit: str | None = None,
    ) -> None:
        self.generation = generation
        self._owners = {e.key: e.owner for e in entries}
        self._limits = limits or {}
        # Kept so that the next version of the manifest resolves against the same default.
        self.default_limit = default_limit
        # Socket.IO paths are prefixes, looked at before the rules (Gateway._http).
        self.channels = tuple((e.path, e.key) for e in entries if e.method == CHANNEL)
        self._adapter = Map(
            [
                Rule(e.path, methods=[e.method], endpoint=e.key)
                for e in entries
                if e.method != CHANNEL
            ]
        ).bind("localhost")
        # Decisions repeat; a bounded LRU keeps them. Which rule a path matches does not
        # depend on the digits of a numeric segment (int and string converters take any),
        # so /api/videos/7 and /api/videos/8 share one entry, unless some rule has a
        # numeric static segment, where the digits do matter.
        self._fold_numbers = not any(seg.isdigit() for e in entries for seg in e.path.split("/"))
        self._cache: OrderedDict[tuple[str, str], Decision] = OrderedDict()
        self._lock = Lock()

    @classmethod
    def from_manifest(
        cls, manifest: Manifest, generation: int = 0, default_limit: str | None = None
    ) -> RouteTable:
        limits = resolve({e.key: e.limit for e in manifest.entries}, manifest.limits, default_limit)
        return cls(manifest.entries, generation, limits, default_limit)

    def owners(self) -> dict[str, str]:
        return dict(self._owners)

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
        with self._lock:
            self._cache[key] = decision
            if len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
        return decision

    def _match(self, method: str, path: str) -> Decision:
        # OPTIONS is answered by Flask's automatic handler (its Allow header lists methods).
        if method == "OPTIONS":
            return Decision(FLASK, None, method)
        try:
            route, _args = self._adapter.match(path, method=method)
        except RequestRedirect:
            return Decision(FLASK, None, method)  # Flask issues the same slash redirect
        except HTTPException:
            return Decision(FLASK, None, method)  # 404 and 405 stay Flask's own
        key = str(route)
        owner, limit = self._owners[key], self._limits.get(key)
        if method == "HEAD" and owner == FASTAPI:
            # Flask answers HEAD as GET without a body; the gateway does the same for FastAPI.
            return Decision(owner, key, "GET", limit)
        return Decision(owner, key, method, limit)
