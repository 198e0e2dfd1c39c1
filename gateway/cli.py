"""The `figway` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from shared.config import Settings, SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except SettingsError as exc:
        print(f"figway: {exc}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="figway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the app with uvicorn")
    _server_args(serve)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (off by default: /_figway/metrics counts them)",
    )
    serve.set_defaults(handler=_serve)

    run = sub.add_parser("run", help="what `make run` does: migrate, seed once, serve")
    _server_args(run)
    run.set_defaults(handler=_run)

    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations (to head by default)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=_db_upgrade)
    down = db_sub.add_parser("downgrade", help="revert migrations (to base by default)")
    down.add_argument("revision", nargs="?", default="base")
    down.set_defaults(handler=_db_downgrade)
    current = db_sub.add_parser("current", help="show the applied revision")
    current.set_defaults(handler=_db_current)

    seed = sub.add_parser("seed-demo", help="admin user and a demo library (idempotent)")
    seed.set_defaults(handler=_seed_demo)

    routes = sub.add_parser("routes", help="every legacy route as METHOD PATH")
    routes.add_argument("--json", action="store_true", help="machine-readable output")
    routes.set_defaults(handler=_routes)

    fake = sub.add_parser("fake-provider", help="a local IMVDb-like metadata provider")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8090)
    fake.add_argument("--latency-ms", type=float, default=0.0)
    fake.add_argument(
        "--media-base-url",
        default=None,
        help="where video sources point (default: the provider itself)",
    )
    fake.set_defaults(handler=_fake_provider)

    worker = sub.add_parser("worker", help="a Celery worker for downloads (needs REDIS_URL)")
    worker.add_argument("--concurrency", type=int, default=2)
    worker.set_defaults(handler=_worker)

    from gateway.ops_cli import add_commands
    from gateway.parity.cli import add_command as add_verify

    add_commands(sub)
    add_verify(sub)
    return parser


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.protocol import protocol_class

    settings = Settings()
    if not _preflight(settings):
        return 2
    uvicorn.run(
        "gateway.asgi:factory",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        access_log=args.access_log,
        http=protocol_class(settings),
    )
    return 0


def _preflight(settings: Settings) -> bool:
    """Build the gateway once here, so a bad manifest stops us before uvicorn starts."""
    from gateway.asgi import create_figway
    from gateway.manifest import ManifestError

    try:
        gateway = create_figway(settings)
    except ManifestError as exc:
        print(f"figway: refusing to start, the manifest is invalid:\n{exc}", file=sys.stderr)
        return False
    del gateway
    return True


def _run(args: argparse.Namespace) -> int:
    from gateway.embedded import run_embedded

    return run_embedded(Settings(), host=args.host, port=args.port)


def _db_upgrade(args: argparse.Namespace) -> int:
    from shared.db.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}")
    return 0


def _db_downgrade(args: argparse.Namespace) -> int:
    from shared.db.migrate import downgrade

    downgrade(Settings().database_url, args.revision)
    print(f"database at {args.revision}")
    return 0


def _db_current(_args: argparse.Namespace) -> int:
    from shared.db.migrate import current_revision, head_revision

    current = current_revision(Settings().database_url)
    print(f"{current or 'empty'} (head: {head_revision()})")
    return 0


def _seed_demo(_args: argparse.Namespace) -> int:
    from shared.db.engine import create_sync_engine, sync_sessionmaker
    from shared.demo import seed_demo

    settings = Settings()
    engine = create_sync_engine(settings)
    try:
        seed_demo(settings, sync_sessionmaker(engine))
    finally:
        engine.dispose()
    return 0


def _routes(args: argparse.Namespace) -> int:
    from gateway.routes import flask_routes
    from legacy_flask import create_app

    app = create_app(Settings())
    routes = flask_routes(app)
    app.extensions["figway"].close()
    if args.json:
        print(
            json.dumps(
                [
                    {"method": r.method, "path": r.path, "endpoint": r.endpoint, "auth": r.auth}
                    for r in routes
                ],
                indent=2,
            )
        )
    else:
        for route in routes:
            print(route.key)
    return 0


def _worker(args: argparse.Namespace) -> int:
    from shared.jobs.celery_app import run_worker

    settings = Settings()
    if not settings.redis_url:
        print("figway worker: set REDIS_URL (e.g. redis://127.0.0.1:6379/0)", file=sys.stderr)
        return 2
    run_worker(settings, args.concurrency)
    return 0


def _fake_provider(args: argparse.Namespace) -> int:
    from shared.fakes.metadata_provider import run

    run(args.host, args.port, args.latency_ms, args.media_base_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
