"""The legacy side under load: 503 + Retry-After past the bound, 504 past the timeout."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from flask import Flask

from gateway.app import Gateway, create_gateway
from shared.config import Settings

MANIFEST = """\
phases:
  - {number: 1, name: one, milestone: "1"}
routes:
  - {route: "GET /slow", phase: 1, owner: flask, auth: public}
  - {route: "GET /fast", phase: 1, owner: flask, auth: public}
  - {route: "GET /static/<path:filename>", phase: 1, owner: flask, auth: public}
"""


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # never leave a WSGI thread blocked behind a failed test


def slow_gateway(tmp_path: Path, release: threading.Event, **limits: Any) -> Gateway:
    legacy = Flask("slow")

    @legacy.get("/slow")
    def slow() -> dict[str, bool]:
        release.wait(10)
        return {"slow": True}

    @legacy.get("/fast")
    def fast() -> dict[str, bool]:
        return {"fast": True}

    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path,
        secret_key="k" * 32,
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        **limits,
    )
    return create_gateway(settings, legacy=legacy, modern=FastAPI(), manifest=manifest)


async def until(predicate: Callable[[], bool]) -> None:
    """Poll `predicate`; the caller's asyncio.timeout bounds the wait."""
    # The guard's counter is a plain int with no event to await, hence the poll.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def _get(gateway: Gateway, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path)


def test_past_threads_plus_queue_the_gateway_answers_503(tmp_path, release):
    gateway = slow_gateway(tmp_path, release, legacy_threads=2, legacy_queue=1)

    async def scenario() -> list[httpx.Response]:
        busy = [asyncio.create_task(_get(gateway, "/slow")) for _ in range(3)]
        async with asyncio.timeout(5):
            await until(lambda: gateway.guard.in_flight >= 3)
        rejected = await _get(gateway, "/fast")
        release.set()
        return [rejected, *await asyncio.gather(*busy)]

    rejected, *served = asyncio.run(scenario())
    assert rejected.status_code == 503
    assert rejected.headers["retry-after"] == "1"
    assert rejected.json()["code"] == "UNAVAILABLE" and set(rejected.json()) == {"error", "code"}
    assert [r.status_code for r in served] == [200, 200, 200]
    assert gateway.guard.in_flight == 0
    assert 'figway_legacy_rejected_total{status="503"} 1.0' in gateway.metrics.render().decode()


def test_a_request_past_the_timeout_gets_504_and_its_thread_finishes(tmp_path, release, caplog):
    gateway = slow_gateway(
        tmp_path, release, legacy_threads=2, legacy_queue=2, legacy_timeout_s=0.2
    )

    async def scenario() -> tuple[httpx.Response, httpx.Response, int]:
        timed_out = await _get(gateway, "/slow")
        still_running = gateway.guard.in_flight
        release.set()
        async with asyncio.timeout(5):
            await until(lambda: gateway.guard.in_flight == 0)
        return timed_out, await _get(gateway, "/fast"), still_running

    with caplog.at_level("WARNING", logger="figway.gateway"):
        timed_out, after, still_running = asyncio.run(scenario())
    assert timed_out.status_code == 504 and timed_out.json()["code"] == "TIMEOUT"
    assert still_running == 1  # the WSGI thread is not killed, it keeps its slot
    assert after.status_code == 200 and after.json() == {"fast": True}
    assert "timed out" in caplog.text


def test_a_request_in_flight_finishes_on_the_side_it_started(tmp_path, release):
    from gateway import changes as ops

    legacy = Flask("inflight")

    @legacy.get("/slow")
    def slow() -> dict[str, str]:
        release.wait(10)
        return {"side": "flask"}

    @legacy.get("/fast")
    def fast() -> dict[str, str]:
        return {"side": "flask"}

    modern = FastAPI()

    @modern.get("/slow")
    async def slow_twin() -> dict[str, str]:
        return {"side": "fastapi"}

    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path,
        secret_key="k" * 32,
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
    )
    gateway = create_gateway(settings, legacy=legacy, modern=modern, manifest=manifest)

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        in_flight = asyncio.create_task(_get(gateway, "/slow"))
        async with asyncio.timeout(5):
            await until(lambda: gateway.guard.in_flight == 1)
        await asyncio.to_thread(
            ops.apply, manifest, ops.plan_flip("GET /slow", "fastapi"), twins=["GET /slow"]
        )
        await gateway.watcher.refresh(force=True)
        after = await _get(gateway, "/slow")  # a new request: the new owner
        release.set()
        return await in_flight, after

    started_before, after = asyncio.run(scenario())
    assert started_before.json() == {"side": "flask"}
    assert started_before.headers["x-served-by"] == "flask"
    assert after.json() == {"side": "fastapi"} and after.headers["x-served-by"] == "fastapi"
