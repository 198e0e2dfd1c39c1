"""The capacity sweep and the CPU-per-request table: how a sweep stops and what a side
holds, the goals' ratios, and the ceiling route the bench adds to the gateway."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from bench.apps import CEILING_PATH, gateway_with_ceiling
from bench.capacity import LEVELS, P99_MS, Step, _ratio, sweep
from bench.cpu import Round, _goals
from bench.harness import QUERY, Load
from shared.config import Settings
from shared.fakes.serving import serve


def _step(clients: int, p99_ms: float, errors: int = 0) -> Step:
    return Step(clients, Load(100.0, 50.0, p99_ms, 1000, errors), 1.0, 0.1)


def test_each_side_stops_at_its_first_failing_level() -> None:
    # flask fails at 40 clients (p99), the twin at 150 (errors), the ceiling never.
    fails = {"flask": 40, "twin": 150}
    asked: list[tuple[str, int]] = []

    def measure(side: str, clients: int) -> Step:
        asked.append((side, clients))
        failing = fails.get(side) == clients
        if side == "twin":
            return _step(clients, 100.0, errors=3 if failing else 0)
        return _step(clients, P99_MS + 1 if failing else P99_MS)

    levels = LEVELS[:8]  # 10 ... 250
    sweeps = sweep(levels, ("flask", "twin", "ceiling"), measure)
    # A failed level is tried once more before it counts.
    assert [c for s, c in asked if s == "flask"] == [10, 15, 25, 40, 40]
    assert [c for s, c in asked if s == "twin"] == [10, 15, 25, 40, 60, 100, 150, 150]
    assert [c for s, c in asked if s == "ceiling"] == list(levels)
    assert sweeps["flask"].steps[-1].cell() == "40: 301 ms / 0 (failed twice)"
    assert (sweeps["flask"].held, sweeps["flask"].failed_at) == (25, 40)
    assert (sweeps["twin"].held, sweeps["twin"].failed_at) == (100, 150)
    assert (sweeps["ceiling"].held, sweeps["ceiling"].failed_at) == (250, None)
    # The sides take turns at each level: the order drift in the machine's load meets.
    assert asked[:3] == [("flask", 10), ("twin", 10), ("ceiling", 10)]


def test_a_side_failing_its_first_level_holds_nothing() -> None:
    sweeps = sweep(LEVELS, ("flask",), lambda _side, clients: _step(clients, 900.0))
    assert sweeps["flask"].held == 0
    assert sweeps["flask"].best() is None
    assert len(sweeps["flask"].steps) == 1
    # No ratio against a side that held nothing: the goal shows unmet, not met by default.
    assert _ratio(100, 0) == 0.0
    assert _ratio(100, 40) == 2.5


def test_one_stall_does_not_end_a_sweep() -> None:
    """The ceiling stalls once at 25 clients (another process took the cores): measured
    again, it holds, and its sweep goes on."""
    stalls = [25]

    def measure(_side: str, clients: int) -> Step:
        if clients in stalls:
            stalls.remove(clients)
            return _step(clients, 400.0)
        return _step(clients, 120.0)

    sweeps = sweep(LEVELS[:5], ("ceiling",), measure)
    assert sweeps["ceiling"].held == 60
    assert sweeps["ceiling"].steps[2].cell() == "25: 120 ms / 0 (held on the second try)"


def test_cpu_goals_are_the_issues_ratios() -> None:
    def at(cpu_ms: float, per_s: float = 100.0) -> Round:
        # 1000 requests: CPU seconds = ms per request.
        return Round(Load(per_s, 1.0, 2.0, 1000, 0), cpu_ms)

    figures = {
        ("hello", "fastapi"): at(0.2),
        ("GET /api/metadata/search", "fastapi"): at(0.5),
        ("GET /api/auth/me", "fastapi"): at(0.5),
        ("GET /api/videos?limit=20", "flask"): at(3.0, per_s=400.0),
        ("GET /api/videos?limit=20", "fastapi"): at(0.9, per_s=1300.0),
    }
    goals = _goals(figures, "hello")
    assert [round(g.measured, 3) for g in goals] == [2.5, 2.5, 0.3, 3.25]
    assert [g.met for g in goals] == [True, False, True, True]
    assert "(1.25x over)" in goals[1].render()


def test_the_ceiling_route_only_awaits_the_provider_through_the_gateway(
    tmp_path: Path,
) -> None:
    searched: list[str | None] = []

    async def search(request: Request) -> Response:
        searched.append(request.query_params.get("q"))
        return JSONResponse({"total_results": 0, "results": []})

    provider = Starlette(routes=[Route("/api/v1/search/entities", search)])
    with serve(provider) as url:
        settings = Settings(
            _env_file=None,
            env="test",
            var_dir=tmp_path / "var",
            database_url=f"sqlite:///{tmp_path / 'bench.db'}",
            secret_key="test-secret-key-0123456789",
            media_root=tmp_path / "media",
            log_file=tmp_path / "var" / "figway.log",
            metadata_base_url=url,
            redis_url=None,
        )
        with TestClient(gateway_with_ceiling(settings)) as client:
            response = client.get(CEILING_PATH)
            # Not in the served app's documentation: the bench's route only.
            schema = client.get("/openapi.json").json()
    assert response.status_code == 200
    assert response.headers["x-served-by"] == "fastapi"
    assert searched == [QUERY]
    assert CEILING_PATH not in schema["paths"]
