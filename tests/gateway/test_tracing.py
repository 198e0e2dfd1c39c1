"""Tracing: a request's trace shows the gateway's decision, the side that served it, its
SQL and its provider call; off, neither the trace SDK nor an exporter is even imported.

Spans go to an in-memory exporter given through the settings (shared.tracing.use_exporter),
or over OTLP to a sink on loopback; the provider is the fake one, served for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import manifest as mf
from gateway.asgi import create_figway
from shared import tracing
from shared.config import Settings
from shared.fakes.metadata_provider import create_provider_app
from shared.fakes.serving import serve
from tests.gateway.test_rate_limit import VERSION, with_limits
from tests.servers import otlp_sink
from tests.test_contract import legacy_manifest

SEARCH = "GET /api/metadata/search"


class Recording:
    """The fake provider, keeping the traceparent of every request it receives."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.traceparents: list[str | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            value = headers.get(b"traceparent")
            self.traceparents.append(None if value is None else value.decode())
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[str, Recording]]:
    recording = Recording(create_provider_app())
    with serve(recording) as url:
        yield url, recording


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def traced_settings(
    settings: Settings, tmp_path: Path, url: str, owners: dict[str, str]
) -> Settings:
    path = legacy_manifest(tmp_path / "migration_status.yaml")
    with mf.locked(path):
        mf.set_owners(path, owners)
    return settings.model_copy(update={"manifest": path, "metadata_base_url": url})


@pytest.fixture
def gateway_for(
    settings: Settings,
    tmp_path: Path,
    provider: tuple[str, Recording],
    exporter: InMemorySpanExporter,
) -> Iterator[Callable[[dict[str, str]], TestClient]]:
    clients: list[TestClient] = []

    def make(owners: dict[str, str]) -> TestClient:
        traced = traced_settings(settings, tmp_path, provider[0], owners)
        tracing.use_exporter(traced, exporter)
        client = TestClient(create_figway(traced), base_url="http://127.0.0.1")
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def request_span(spans: tuple[ReadableSpan, ...], route: str) -> ReadableSpan:
    found = [s for s in spans if s.kind == SpanKind.SERVER and s.attributes]
    found = [s for s in found if s.attributes and s.attributes.get("figway.route") == route]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [
        s
        for s in spans
        if s.parent is not None
        and s.parent.span_id == parent.context.span_id
        and s.parent.trace_id == parent.context.trace_id
    ]


@pytest.mark.parametrize("owner", ["flask", "fastapi"])
def test_a_request_trace_shows_decision_side_sql_and_provider_call(
    owner: str,
    gateway_for: Callable[[dict[str, str]], TestClient],
    exporter: InMemorySpanExporter,
    provider: tuple[str, Recording],
    bearer: Callable[[str], dict[str, str]],
) -> None:
    client = gateway_for({SEARCH: owner})
    headers = bearer("user")
    exporter.clear()
    provider[1].traceparents.clear()

    response = client.get("/api/metadata/search", params={"q": "a"}, headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["x-served-by"] == owner
    spans = exporter.get_finished_spans()
    top = request_span(spans, SEARCH)
    assert top.parent is None
    assert top.attributes is not None
    assert top.attributes["figway.owner"] == owner
    assert top.attributes["figway.decision"] == "manifest"
    assert top.attributes["http.response.status_code"] == 200
    below = children(spans, top)
    # The side's SQL (the caller's account, read for the token), under the gateway's span:
    # on the Flask side from the WSGI thread, on the FastAPI side from SQLAlchemy's greenlet.
    sql = [s for s in below if s.attributes and "db.statement" in s.attributes]
    assert sql, [s.name for s in spans]
    assert all(s.kind == SpanKind.CLIENT for s in sql)
    assert any("SELECT" in str(s.attributes and s.attributes["db.statement"]) for s in sql)
    calls = [s for s in below if s.attributes and "url.full" in s.attributes]
    assert len(calls) == 1, [s.name for s in spans]
    call = calls[0]
    assert call.attributes is not None
    assert str(call.attributes["url.full"]).startswith(provider[0])
    assert call.attributes["http.response.status_code"] == 200
    # The provider was told: its request carries the call span as the parent.
    assert call.context is not None
    trace_id, span_id = f"{call.context.trace_id:032x}", f"{call.context.span_id:016x}"
    (sent,) = provider[1].traceparents
    assert sent is not None
    assert sent.split("-")[1:3] == [trace_id, span_id]


def test_a_callers_traceparent_is_the_parent_of_the_gateway_span(
    gateway_for: Callable[[dict[str, str]], TestClient], exporter: InMemorySpanExporter
) -> None:
    client = gateway_for({})
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    exporter.clear()
    assert client.get("/api/version", headers={"traceparent": caller}).status_code == 200
    top = request_span(exporter.get_finished_spans(), VERSION)
    assert top.parent is not None
    assert f"{top.parent.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert f"{top.parent.span_id:016x}" == "b7ad6b7169203331"


def test_the_decision_unmatched_modern_only_and_rate_limited(
    gateway_for: Callable[[dict[str, str]], TestClient],
    exporter: InMemorySpanExporter,
    tmp_path: Path,
) -> None:
    client = gateway_for({})
    with_limits(tmp_path / "migration_status.yaml", {VERSION: "1/minute"})
    gateway: Any = client.app
    assert client.portal is not None
    assert client.portal.call(lambda: gateway.watcher.refresh(force=True))
    exporter.clear()

    assert client.get("/no/such/route").status_code == 404
    assert client.get("/openapi.json").headers["x-served-by"] == "fastapi"  # no manifest route
    assert client.get("/api/version").status_code == 200
    assert client.get("/api/version").status_code == 429

    spans = exporter.get_finished_spans()
    unmatched = [s.attributes for s in spans if s.name.endswith("<unmatched>")]
    assert [
        (a and a["url.path"], a and a["figway.owner"], a and a["figway.decision"])
        for a in unmatched
    ] == [
        ("/no/such/route", "flask", "unmatched"),
        ("/openapi.json", "fastapi", "modern-only"),
    ]
    versions = [s for s in spans if s.attributes and s.attributes.get("figway.route") == VERSION]
    assert [s.attributes and s.attributes["figway.decision"] for s in versions] == [
        "manifest",
        "rate-limited",
    ]
    limited = versions[1].attributes
    assert limited is not None
    assert limited["figway.owner"] == "gateway"
    assert limited["http.response.status_code"] == 429


def test_otlp_exports_the_spans_to_the_configured_endpoint(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with otlp_sink() as (url, received):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "figway-test")
        traced = traced_settings(settings, tmp_path, "http://127.0.0.1:9", {})
        traced.tracing = "otlp"
        with TestClient(create_figway(traced), base_url="http://127.0.0.1") as client:
            assert client.get("/api/version").status_code == 200
    # The gateway's shutdown flushed the batch.
    assert [path for path, _ in received] == ["/v1/traces"]
    export = ExportTraceServiceRequest.FromString(received[0][1])
    (resource_spans,) = export.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "figway-test"
    names = [s.name for scope in resource_spans.scope_spans for s in scope.spans]
    assert names == [VERSION]


OFF_CHECK = """
import json, sys
from starlette.testclient import TestClient
from gateway.asgi import create_figway
from shared.config import Settings
settings = Settings(_env_file=None, env="test", var_dir=sys.argv[1], manifest=sys.argv[2])
with TestClient(create_figway(settings), base_url="http://127.0.0.1") as client:
    status = client.get("/api/version").status_code
# The trace SDK, the exporter and our spans. Not the API (FastAPI imports it when it is
# installed), nor the SDK's metrics (redis-py's observability imports them).
heavy = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "shared.tracing.spans")
loaded = sorted(m for m in sys.modules if m.startswith(heavy))
print(json.dumps({"status": status, "loaded": loaded}))
"""


def test_off_neither_the_trace_sdk_nor_the_exporter_is_imported(tmp_path: Path) -> None:
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIGWAY_", "OTEL_"))}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", OFF_CHECK, str(tmp_path / "var"), str(manifest)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": 200, "loaded": []}


def test_tracing_setting_reads_figway_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIGWAY_TRACING", "console")
    assert Settings(_env_file=None).tracing == "console"
    monkeypatch.setenv("FIGWAY_TRACING", "zipkin")
    with pytest.raises(ValueError, match="FIGWAY_TRACING"):
        Settings(_env_file=None)
