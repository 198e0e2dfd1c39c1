"""Run the legacy suite through the gateway: FIGWAY_TEST_THROUGH_GATEWAY=1.

Flask's test client calls `app.wsgi_app`; here that becomes a bridge into the gateway,
with the app's original `wsgi_app` as the gateway's legacy side and every route that has
a FastAPI twin owned by fastapi (the rest by flask). Each test then asserts, unchanged,
that the gateway with the twins answers exactly as the Flask app alone: the legacy suite
is the twins' suite too.

The bridge plays the part of an HTTP server towards the gateway (ASGI): it passes the
request body, relays the response, and tells the app `http.disconnect` when the test
closes a response early, as a server does when its client hangs up.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from starlette.types import ASGIApp

from fastapi_app import create_fastapi_app
from gateway import manifest as mf
from gateway.app import create_gateway, modern_route_keys
from shared.config import Settings
from tests.asgi_client import Answer, call, reason
from tests.modes import MODERN_KEY
from tests.test_contract import MANIFEST

# The manifest each set of twins gives, per manifest text: the same for nearly every test,
# and a round-trip YAML load and rewrite cost about a quarter of a second each time.
_owned_manifests: dict[tuple[str, frozenset[str]], str] = {}


def _owned_by_twins(tmp: Path, twins: frozenset[str]) -> str:
    """The repository's manifest with each route that has a twin owned by fastapi."""
    original = MANIFEST.read_text(encoding="utf-8")
    known = _owned_manifests.get((original, twins))
    if known is not None:
        return known
    manifest = tmp / "gateway-manifest.yaml"
    manifest.write_text(original, encoding="utf-8")
    with mf.locked(manifest):
        mf.set_owners(
            manifest,
            {
                e.key: "fastapi" if mf.twin_key(e.key) in twins else "flask"
                for e in mf.load(manifest).entries
            },
        )
    text = manifest.read_text(encoding="utf-8")
    _owned_manifests[original, twins] = text
    return text


def route_through_gateway(app: Flask, settings: Settings, tmp: Path) -> Callable[[], int]:
    """Put the gateway in front of `app`; returns the teardown, which returns how many
    requests went through the gateway."""
    modern = create_fastapi_app(settings)
    twins = frozenset(mf.twin_key(key) for key in modern_route_keys(modern.routes))
    manifest = tmp / "gateway-manifest.yaml"
    text = _owned_by_twins(tmp, twins)
    manifest.write_text(text, encoding="utf-8")
    gateway = create_gateway(
        settings.model_copy(update={"manifest": manifest}),
        legacy=app.wsgi_app,
        modern=modern,
        manifest=manifest,
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="gateway-loop", daemon=True)
    thread.start()
    bridge = _Bridge(gateway, loop, app.wsgi_app)
    app.wsgi_app = bridge  # type: ignore[method-assign]
    app.extensions[MODERN_KEY] = modern

    def teardown() -> int:
        async def stop() -> None:
            await gateway.watcher.stop()
            await modern.state.figway.aclose()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        return bridge.requests

    return teardown


class _Bridge:
    """WSGI in front, ASGI behind: one request per call, on the gateway's loop."""

    def __init__(self, app: ASGIApp, loop: asyncio.AbstractEventLoop, legacy: Any) -> None:
        self.app = app
        self.loop = loop
        # What it stands in front of, as a WSGI middleware names it: the chain stays
        # walkable (gateway.routes.flask_channels finds Flask-SocketIO's behind it).
        self.wsgi_app = legacy
        self.requests = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        self.requests += 1
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        answer = call(self.app, self.loop, _scope(environ), body)
        start_response(f"{answer.status} {reason(answer.status)}", answer.headers)
        return _relay(answer)


def _relay(answer: Answer) -> Iterator[bytes]:
    """The body as the app sends it; closed early (the test closes the response), the
    client hangs up."""
    try:
        yield from answer.chunks
    finally:
        answer.close()


def _scope(environ: dict[str, Any]) -> dict[str, Any]:
    """The ASGI scope a server would build for this request (bytes as sent on the wire)."""
    headers = (
        [(b"content-type", environ["CONTENT_TYPE"].encode("latin-1"))]
        if environ.get("CONTENT_TYPE")
        else []
    )
    if environ.get("CONTENT_LENGTH"):
        headers.append((b"content-length", environ["CONTENT_LENGTH"].encode("latin-1")))
    headers += [
        (k[5:].replace("_", "-").lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in environ.items()
        if k.startswith("HTTP_")
    ]
    path = environ.get("PATH_INFO", "").encode("latin-1")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1").split("/")[-1],
        "method": environ["REQUEST_METHOD"],
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": path.decode("utf-8", "surrogateescape"),
        "raw_path": path,
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "client": (environ.get("REMOTE_ADDR", "127.0.0.1"), 0),
        "server": (environ.get("SERVER_NAME", "localhost"), int(environ.get("SERVER_PORT", 80))),
    }
