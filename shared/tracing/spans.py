"""The spans: one per request through the gateway, per SQL statement, per provider call.

Imported only when tracing is on (shared.tracing.tracer_for returned a tracer).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import Engine, event

_PROPAGATOR = TraceContextTextMapPropagator()
_SPANS = "figway_spans"  # in a connection's info: the statements in flight on it


class RequestSpan:
    """The gateway's span of one request, current (so the parent of the sides' spans)
    from its start to its end. A caller's traceparent, if any, is its parent."""

    __slots__ = ("_token", "span")

    def __init__(self, tracer: Tracer, scope: Any, route: str) -> None:
        method: str = scope["method"]
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        parent = _PROPAGATOR.extract(carrier) if carrier else None
        self.span = tracer.start_span(
            # A route key names its method ("GET /api/videos"); "<unmatched>" does not.
            route if " " in route else f"{method} {route}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "http.route": route,
                "figway.route": route,
            },
        )
        self._token = otel_context.attach(trace.set_span_in_context(self.span))

    def end(self, owner: str, decision: str, status: int) -> None:
        span = self.span
        span.set_attribute("figway.owner", owner)
        span.set_attribute("figway.decision", decision)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        otel_context.detach(self._token)


def trace_statements(engine: Engine, tracer: Tracer) -> None:
    """A client span per SQL statement on `engine` (a sync engine, or an async engine's
    sync_engine: its events run in the greenlet that carries the caller's context)."""
    system = engine.dialect.name

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.start_span(
            verb,
            kind=SpanKind.CLIENT,
            attributes={"db.system": system, "db.statement": statement},
        )
        conn.info.setdefault(_SPANS, []).append(span)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, *_args: Any) -> None:
        spans = conn.info.get(_SPANS)
        if spans:
            spans.pop().end()

    @event.listens_for(engine, "handle_error")
    def _error(context: Any) -> None:
        conn = context.connection
        spans = conn.info.get(_SPANS) if conn is not None else None
        if spans:
            span = spans.pop()
            span.record_exception(context.original_exception)
            span.set_status(Status(StatusCode.ERROR, type(context.original_exception).__name__))
            span.end()


class CallSpan:
    """A client span of one outbound HTTP call; `headers` carry its traceparent."""

    __slots__ = ("headers", "span")

    def __init__(self, tracer: Tracer, method: str, url: str) -> None:
        self.span: Span = tracer.start_span(
            f"{method} provider",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "url.full": url},
        )
        self.headers: dict[str, str] = {}
        _PROPAGATOR.inject(self.headers, context=trace.set_span_in_context(self.span))

    def done(self, status: int) -> None:
        self.span.set_attribute("http.response.status_code", status)
        if status >= 500:
            self.span.set_status(Status(StatusCode.ERROR))
        self.span.end()

    def failed(self, exc: BaseException) -> None:
        self.span.record_exception(exc)
        self.span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        self.span.end()
