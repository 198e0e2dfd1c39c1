"""No twin blocks the event loop: the guard watches while the twins serve the catalogue."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from gateway.parity import runner
from gateway.parity.scenarios import CATALOGUE
from tests.loop_guard import guarding


def test_the_twins_never_block_the_loop_while_serving_every_scenario(server_url):
    with guarding() as caught:
        outcomes = runner.run(list(CATALOGUE), server_url)
    assert len(outcomes) == len(CATALOGUE)  # every twin was exercised
    assert caught == []


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
