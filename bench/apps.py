"""The apps the benchmark serves, as factories for uvicorn and gunicorn.

`python -m bench.apps serve --port P --workers N` serves the gateway as `figway serve`
does, with one route more on the FastAPI side (`CEILING_PATH`): it only awaits the
metadata provider, through the client the search twin uses, and answers a constant. It is
the ceiling a twin of the search route can reach through this gateway on this machine;
the serving code (gateway/, fastapi_app/) never has it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from flask import Flask
from starlette.responses import Response

from bench.harness import QUERY
from fastapi_app import create_fastapi_app
from gateway.app import Gateway, create_gateway
from gateway.asgi import demo_admin
from legacy_flask import create_app
from shared.config import Settings

CEILING_PATH = "/bench/provider-only"
_CEILING_BODY = b'{"ok":true}'


def bare_fastapi() -> FastAPI:
    """The FastAPI app alone, without the gateway in front."""
    return create_fastapi_app(Settings())


def legacy_wsgi() -> Flask:
    """The Flask app alone, for gunicorn."""
    return create_app(Settings())


def gateway_with_ceiling(settings: Settings | None = None) -> Gateway:
    """The gateway as `gateway.asgi:factory` builds it, plus the ceiling route."""
    settings = settings or Settings()
    modern = create_fastapi_app(settings)
    # The same client (aiohttp pool, concurrency bound) the search twin awaits.
    metadata = modern.state.figway.metadata

    async def provider_only() -> Response:
        await metadata.search_artists(QUERY)
        return Response(_CEILING_BODY, media_type="application/json")

    # Added before the gateway is built: it serves FastAPI routes the manifest does not list.
    modern.add_api_route(CEILING_PATH, provider_only, methods=["GET"], include_in_schema=False)
    return create_gateway(
        settings,
        legacy=create_app(settings),
        modern=modern,
        manifest=settings.manifest,
        admin_auth=demo_admin(modern),
    )


def serve_command(port: int, workers: int) -> list[str]:
    """The command line that serves `gateway_with_ceiling` (see `_serve`)."""
    return [
        sys.executable,
        *("-m", "bench.apps", "serve"),
        *("--port", str(port), "--workers", str(workers)),
    ]


@dataclass(frozen=True)
class Stack:
    """Where a scenario's servers listen: the gateway, the provider; the manifest to flip."""

    gateway: str
    gateway_pid: int
    provider: str
    provider_pid: int
    manifest: Path


@contextmanager
def served(
    work: Path, database_url: str, *, latency_ms: float, workers: int
) -> Iterator[tuple[Stack, dict[str, str]]]:
    """The fake provider (`figway fake-provider`) and the gateway with the ceiling route on
    `database_url` (migrated here), each in its own process; yields them and their env."""
    import shutil

    from bench.harness import base_env, figway, free_port, running, running_provider

    root = Path(__file__).resolve().parent.parent
    manifest = work / "migration_status.yaml"
    shutil.copy(root / "migration_status.yaml", manifest)
    ports = {"provider": free_port(), "gateway": free_port()}
    env = base_env(
        work,
        FIGWAY_MANIFEST=str(manifest),
        METADATA_BASE_URL=f"http://127.0.0.1:{ports['provider']}",
        DATABASE_URL=database_url,
    )
    figway("db", "upgrade", env=env)
    logs = work / "logs"
    with (
        running_provider(ports["provider"], latency_ms, env, logs / "provider.log") as provider,
        running(
            serve_command(ports["gateway"], workers),
            env,
            ports["gateway"],
            logs / "gateway.log",
        ) as gateway,
    ):
        yield Stack(gateway, gateway.pid, provider, provider.pid, manifest), env


def _serve(argv: list[str]) -> int:
    """`figway serve` (gateway/cli.py) with this module's factory: the same protocol, the
    same workers, no access log."""
    import uvicorn

    from gateway.protocol import protocol_class

    parser = argparse.ArgumentParser(prog="python -m bench.apps")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="the gateway with the ceiling route")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    uvicorn.run(
        "bench.apps:gateway_with_ceiling",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        http=protocol_class(Settings()),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(_serve(sys.argv[1:]))
