"""OpenTelemetry tracing: off by default, and then nothing of OpenTelemetry is imported.

`tracer_for(settings)` is the one seam: None when tracing is off (every instrumented place
tests that and does nothing else), else the process's tracer, built once per settings
object from FIGWAY_TRACING (otlp or console) or from the exporter a test handed to
`use_exporter`. The spans themselves are made in shared.tracing.spans.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

    from shared.config import Settings

INSTRUMENTATION = "figway"


@dataclass(frozen=True)
class _Tracing:
    provider: TracerProvider
    tracer: Tracer


def use_exporter(settings: Settings, exporter: SpanExporter) -> None:
    """Send this settings object's spans to `exporter`, each as it ends (tests: an
    in-memory exporter). Call before building anything from the settings."""
    settings._span_exporter = exporter
    settings._tracing = None


def enabled(settings: Settings) -> bool:
    return settings.tracing != "off" or settings._span_exporter is not None


def tracer_for(settings: Settings) -> Tracer | None:
    """The tracer of everything built from `settings`; None when tracing is off."""
    if not enabled(settings):
        return None
    built: _Tracing | None = settings._tracing
    if built is None:
        built = settings._tracing = _build(settings)
    return built.tracer


def shutdown(settings: Settings) -> None:
    """Export the spans still queued and stop (at the gateway's shutdown)."""
    built: _Tracing | None = settings._tracing
    if built is not None:
        built.provider.shutdown()


def _build(settings: Settings) -> _Tracing:
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    name = os.environ.get("OTEL_SERVICE_NAME") or INSTRUMENTATION
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    processor: SpanProcessor
    exporter: Any = settings._span_exporter
    if exporter is not None:
        processor = SimpleSpanProcessor(exporter)  # a test reads its spans at once
    elif settings.tracing == "console":
        processor = SimpleSpanProcessor(ConsoleSpanExporter())
    else:
        # The endpoint, headers and timeout from the standard OTEL_EXPORTER_OTLP_* names.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # In batches, from a thread of its own: a request never waits on the collector.
        processor = BatchSpanProcessor(OTLPSpanExporter())
    provider.add_span_processor(processor)
    return _Tracing(provider, provider.get_tracer(INSTRUMENTATION))
