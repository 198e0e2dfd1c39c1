"""The event-loop guard catches each kind of blocking call; every twin is in the catalogue the
guard watches (tests/gateway/test_parity.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from fastapi_app import create_fastapi_app
from gateway.app import modern_route_keys
from gateway.manifest import CHANNEL, twin_key
from parity.demo.scenarios import CATALOGUE
from shared.config import Settings
from tests.loop_guard import guarding
from tests.test_contract import manifest_routes


def test_every_twin_has_scenarios_for_the_guarded_parity_run():
    """tests/gateway/test_parity.py serves the catalogue with the guard armed: a twin
    without scenarios would go unwatched."""
    settings = Settings(_env_file=None, env="test", database_url="sqlite://", secret_key="k" * 32)
    # HTTP routes: the Socket.IO channel has no HTTP scenarios (tests/test_realtime.py).
    contract = {twin_key(key) for key in manifest_routes() if not key.startswith(CHANNEL)}
    twins = {twin_key(k) for k in modern_route_keys(create_fastapi_app(settings).routes)}
    assert twins & contract  # the twins were found
    assert twins & contract <= {twin_key(s.route) for s in CATALOGUE}


@pytest.mark.parametrize(
    ("name", "blocking"),
    [
        ("sleep", lambda: time.sleep(0.01)),
        ("subprocess", lambda: subprocess.run([sys.executable, "-c", "pass"], check=True)),
        ("sync sqlite", lambda: _sync_sqlite()),
        ("blocking socket", lambda: _blocking_connect()),
    ],
)
def test_the_guard_catches_each_kind_of_blocking_call(name, blocking):
    app = FastAPI()

    @app.get("/bad")
    async def bad() -> dict[str, bool]:
        blocking()
        return {"ok": True}

    with guarding() as caught, TestClient(app) as client:
        client.get("/bad")
    assert caught, f"{name} went unnoticed"


def test_asyncio_subprocesses_are_fine():
    app = FastAPI()

    @app.get("/good")
    async def good() -> dict[str, int]:
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        return {"code": await process.wait()}

    with guarding() as caught, TestClient(app) as client:
        assert client.get("/good").json() == {"code": 0}
    assert caught == []


def test_blocking_calls_off_the_loop_are_fine():
    with guarding() as caught:
        time.sleep(0.001)
        _sync_sqlite()
    assert caught == []


def _sync_sqlite() -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()


def _blocking_connect() -> None:
    import socket

    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client.connect(server.getsockname())
