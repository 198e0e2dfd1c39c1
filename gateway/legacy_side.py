"""The gateway's legacy side, built when first needed: with every route on FastAPI, none.

The end of a migration is a process with no Flask in it. The legacy app, a2wsgi's thread
pool and the guard (gateway/legacy.py) are built by `ensure()`, once, under a lock, the
first time some route is owned by flask: when the gateway is created with such a manifest,
or when a flip back to flask is about to take effect. Building a Flask app is sync work
(imports, app factory: a second or more), so it never runs on the event loop:

- a manifest reload (the watcher, after `figway flip` or an edit) checks the new manifest
  in its worker thread; that check builds the side *before* the new table is swapped in,
  so no request ever waits for it, and a failure keeps the last good table (a manifest
  problem, shown by status and the log);
- the admin API builds it in a worker thread before it writes a flip to flask, and refuses
  the flip (409) with the reason when it cannot;
- a request that reaches an unbuilt side (none should: see above) builds it in a worker
  thread too, the lock making every other one wait for that build.

Without Flask installed, the build fails with LegacyUnavailable, naming the `legacy` extra.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, cast

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.legacy import LegacyGuard
from shared.auth.session_cookie import SessionCookieCodec
from shared.config import Settings


class LegacyUnavailable(RuntimeError):
    """The legacy side cannot be built (Flask is not installed): no route may go to it."""


class LegacySide:
    """An ASGI app: the legacy WSGI app behind a2wsgi and the LegacyGuard, built by
    `ensure()` (or at the first request that needs it)."""

    def __init__(
        self,
        settings: Settings,
        build: Callable[[], Any],
        *,
        on_reject: Callable[[int], None],
        on_built: Callable[[Any], None] = lambda _app: None,
    ) -> None:
        self._settings = settings
        self._build = build
        self._on_reject = on_reject
        self._on_built = on_built
        self._lock = threading.Lock()
        self._guard: LegacyGuard | None = None
        self.app: Any = None  # the legacy app itself, once built

    @property
    def built(self) -> bool:
        return self._guard is not None

    @property
    def in_flight(self) -> int:
        """Requests in the legacy side now (0 while it is not built)."""
        return 0 if self._guard is None else self._guard.in_flight

    def ensure(self) -> LegacyGuard:
        """Build the side unless built: sync, blocking, thread-safe, done once. Call it off
        the event loop (or before serving). LegacyUnavailable without Flask."""
        guard = self._guard
        if guard is not None:
            return guard
        with self._lock:
            if self._guard is None:
                app = _build_legacy(self._build)
                from gateway.wsgi import OneHopWSGIMiddleware, stop_when_client_leaves

                settings = self._settings
                # a2wsgi types its scopes as TypedDicts, Starlette as plain mappings.
                wsgi_side = cast(
                    ASGIApp,
                    OneHopWSGIMiddleware(
                        stop_when_client_leaves(app), workers=settings.legacy_threads
                    ),
                )
                self.app = app
                self._on_built(app)
                self._guard = LegacyGuard(
                    wsgi_side,
                    threads=settings.legacy_threads,
                    queue=settings.legacy_queue,
                    timeout_s=settings.legacy_timeout_s,
                    on_reject=self._on_reject,
                )
            return self._guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guard = self._guard
        if guard is None:
            guard = await asyncio.to_thread(self.ensure)
        await guard(scope, receive, send)


def _build_legacy(build: Callable[[], Any]) -> Any:
    try:
        return build()
    except ModuleNotFoundError as exc:
        from gateway.cli import LEGACY_MODULES  # the CLI's list of the extra's modules

        if (exc.name or "").split(".")[0] not in LEGACY_MODULES:
            raise
        raise LegacyUnavailable(
            f"the legacy (Flask) side cannot be built: no module {exc.name!r}. A route "
            "owned by flask needs Flask installed: pip install 'figway[legacy]'"
        ) from exc


def flask_session_codec(legacy: Any) -> SessionCookieCodec | None:
    """The codec of a Flask app's session cookie, from its config; None for other WSGI
    apps, and for a Flask app without a SECRET_KEY or a signed-cookie session."""
    if not hasattr(legacy, "config") or not hasattr(legacy, "session_interface"):
        return None
    try:
        return SessionCookieCodec.from_flask_app(legacy)
    except ValueError:
        return None
