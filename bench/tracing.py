"""What tracing costs: the hello-world route's CPU per request with tracing off against
on (FIGWAY_TRACING=otlp, exported in batches to an OTLP sink on loopback), in one run.

Each side is its own `figway serve` (the same workers, the same manifest with the route
owned by fastapi); rounds rotate the order of the sides (bench.harness.rotating_cpu_rounds).
The sink runs in this process: its CPU is not the server's. The gateway span's own cost is
also timed in-process, as are the off path's (one attribute test).
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path

from bench.harness import (
    WORKERS,
    Load,
    base_env,
    figway,
    median,
    rotating_cpu_rounds,
    serve_figway,
)
from bench.report import Goal, Scenario, Side
from gateway import changes as ops
from tests.servers import otlp_sink

ROOT = Path(__file__).resolve().parent.parent
HELLO = "GET /api/version"
CONNECTIONS = 64
# Off is the default and must cost nothing measurable: the one test per request, timed
# in-process (two servers' CPU figures move by a few percent from run to run).
OFF_NS_GOAL = 100.0


def tracing_cost(workdir: Path, quick: bool) -> Scenario:
    work = workdir / "tracing"
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "migration_status.yaml"
    shutil.copy(ROOT / "migration_status.yaml", manifest)
    ops.apply(manifest, ops.plan_flip(HELLO, "fastapi"), twins=None)
    env = base_env(work, FIGWAY_MANIFEST=str(manifest))
    env = {k: v for k, v in env.items() if not k.startswith("OTEL_")}
    figway("db", "upgrade", env=env)
    rounds, seconds = (1, 1.0) if quick else (3, 5.0)
    with ExitStack() as stack:
        sink, received = stack.enter_context(otlp_sink())
        sides = {
            "tracing off": {**env, "FIGWAY_TRACING": "off"},
            "tracing on (OTLP)": {
                **env,
                "FIGWAY_TRACING": "otlp",
                "OTEL_EXPORTER_OTLP_ENDPOINT": sink,
                "OTEL_SERVICE_NAME": "figway-bench",
            },
        }
        servers = {
            name: stack.enter_context(serve_figway(side_env, work / "logs" / f"{i}.log"))
            for i, (name, side_env) in enumerate(sides.items())
        }
        measured = rotating_cpu_rounds(servers, "/api/version", CONNECTIONS, rounds, seconds)
    if not received:
        raise RuntimeError("tracing on: the OTLP sink received no export")
    exported = sum(len(body) for _, body in received)
    return _report(measured, rounds, seconds, _span_us(), len(received), exported)


def _span_us(calls: int = 20_000) -> tuple[float, float]:
    """Microseconds per request, in this process: the off path's test, and the gateway
    span made and ended (SDK, a batch processor whose exporter drops what it gets)."""
    import time
    from collections.abc import Sequence

    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from shared.tracing.spans import RequestSpan

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    tracer = provider.get_tracer("bench")
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    scope = {"type": "http", "method": "GET", "path": "/api/version", "headers": headers}

    class Off:
        trace_request = None

    off = Off()
    started = time.perf_counter()
    for _ in range(calls):
        span = None if off.trace_request is None else off.trace_request(scope, HELLO)
        if span is not None:
            span.end("fastapi", "manifest", 200)
    off_us = (time.perf_counter() - started) / calls * 1e6
    started = time.perf_counter()
    for _ in range(calls):
        RequestSpan(tracer, scope, HELLO).end("fastapi", "manifest", 200)
    on_us = (time.perf_counter() - started) / calls * 1e6
    provider.shutdown()
    return off_us, on_us


def _report(
    measured: dict[str, list[tuple[Load, float]]],
    rounds: int,
    seconds: float,
    span_us: tuple[float, float],
    exports: int,
    exported_bytes: int,
) -> Scenario:
    cpu = {name: median([ms for _, ms in found]) for name, found in measured.items()}
    base = max(cpu["tracing off"], 1e-9)

    def side(name: str) -> Side:
        target = cpu[name]
        load = min(measured[name], key=lambda found: abs(found[1] - target))[0]
        return Side(name, load, (f"{target:.3f}", f"{target / base:.3f}"))

    off_us, on_us = span_us
    notes = [
        "rounds, CPU ms per request: "
        + "; ".join(
            f"{name} " + ", ".join(f"{ms:.3f}" for _, ms in found)
            for name, found in measured.items()
        ),
        f"in-process, per request: the off path {off_us * 1000:.0f} ns (one attribute test); "
        f"the gateway span made and ended {on_us:.1f} us "
        f"({on_us / 10 / base:.1f}% of the route's CPU with tracing off)",
        f"the sink received {exports} export(s), {exported_bytes} bytes",
    ]
    return Scenario(
        "Tracing cost on the hello-world route",
        f"`{HELLO}` owned by fastapi through `figway serve --workers {WORKERS}`, "
        f"`FIGWAY_TRACING=off` against `otlp` (batches to a sink on loopback); wrk with "
        f"{CONNECTIONS} connections, {rounds} round(s) of {seconds:g} s per side (the order "
        "rotating); the round with the median CPU per request is shown. Columns after the "
        "errors: CPU per request, and as a multiple of tracing off.",
        sides=[side(name) for name in measured],
        goals=[Goal("tracing off, in-process: ns per request", off_us * 1000, OFF_NS_GOAL, False)],
        notes=notes,
        extra_columns=("CPU ms/req", "x tracing off"),
    )
