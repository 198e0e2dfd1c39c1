"""Serve an ASGI app (the fake provider, a test stub) for real, by uvicorn in a thread; or
an asyncio protocol server (the fake provider's lean one) on a loop in a thread."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

STOP_TIMEOUT_S = 10


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run `app` until the block ends; yields its base URL, e.g. http://127.0.0.1:40123."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    # Listening before uvicorn starts: early requests wait in the backlog, no polling needed.
    sock.listen(1024)
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="fake-server", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the served app did not stop")


@contextmanager
def serve_protocol(factory: Callable[[], asyncio.Protocol]) -> Iterator[str]:
    """Run an asyncio protocol server (the fake provider's lean one) on its own loop in a
    thread until the block ends; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    protocols: list[asyncio.Protocol] = []

    def made() -> asyncio.Protocol:
        protocols.append(factory())
        return protocols[-1]

    def main() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(loop.create_server(made, sock=sock))
        loop.call_soon(started.set)
        loop.run_forever()
        server.close()
        # The clients' connections too (a protocol that keeps its `transport`), so that no
        # socket outlives the loop.
        for protocol in protocols:
            transport = getattr(protocol, "transport", None)
            if isinstance(transport, asyncio.BaseTransport):
                transport.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=main, name="fake-protocol-server", daemon=True)
    thread.start()
    try:
        if not started.wait(STOP_TIMEOUT_S):
            raise RuntimeError("the protocol server did not start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT_S)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the protocol server did not stop")
