"""The WSGI side: one hand-off for a plain response, streams unchanged, clients leaving."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, stream_with_context

from gateway.wsgi import CLIENT_GONE, OneHopWSGIMiddleware, stop_when_client_leaves

SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "root_path": "",
    "query_string": b"",
    "headers": [],
    "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 80),
}


def legacy_app(closed: list[str]) -> Flask:
    app = Flask("wsgi-side")

    @app.get("/json")
    def json() -> dict[str, int]:
        return {"n": 1}

    @app.get("/empty")
    def empty() -> tuple[str, int]:
        return "", 204

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[bytes]:
            try:
                for i in range(1000):
                    yield f"chunk {i}\n".encode()
            finally:
                closed.append("stream")

        return Response(stream_with_context(chunks()), mimetype="text/plain")

    return app


def call(
    app: Any, path: str, method: str = "GET", gone: threading.Event | None = None
) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)
            if gone is not None and len(messages) == 3:
                gone.set()  # the client hangs up after two chunks

        token = CLIENT_GONE.set(gone)
        try:
            await asyncio.ensure_future(
                app({**SCOPE, "method": method, "path": path}, receive, send)
            )
        finally:
            CLIENT_GONE.reset(token)

    asyncio.run(run())
    return messages


def test_a_plain_response_is_start_then_one_final_body():
    messages = call(OneHopWSGIMiddleware(legacy_app([]), workers=2), "/json")
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.body"]
    assert messages[0]["status"] == 200
    assert messages[1]["body"] == b'{"n":1}\n' and not messages[1].get("more_body", False)


def test_an_empty_response_and_head_end_properly():
    app = OneHopWSGIMiddleware(legacy_app([]), workers=2)
    empty = call(app, "/empty")
    assert empty[0]["status"] == 204 and empty[-1] == {"type": "http.response.body", "body": b""}
    head = call(app, "/json", method="HEAD")
    assert head[0]["status"] == 200 and all(not m.get("body") for m in head[1:])
    assert not head[-1].get("more_body", False)


def test_a_stream_goes_chunk_by_chunk_and_ends():
    messages = call(OneHopWSGIMiddleware(legacy_app([]), workers=2), "/stream")
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert len(bodies) == 1001 and all(m["more_body"] for m in bodies[:-1])
    assert bodies[-1] == {"type": "http.response.body", "body": b""}
    assert b"".join(m["body"] for m in bodies).count(b"\n") == 1000


def test_a_stream_stops_and_closes_when_its_client_leaves():
    closed: list[str] = []
    app = OneHopWSGIMiddleware(stop_when_client_leaves(legacy_app(closed)), workers=2)
    messages = call(app, "/stream", gone=threading.Event())
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert len(bodies) < 10  # stopped at once, not after 1000 chunks
    assert closed == ["stream"]
