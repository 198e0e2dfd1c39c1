"""The `figway` command.

Every command works on the demo app unless `--app MODULE:ATTR` (or FIGWAY_APP) names
another: the gateway `create_gateway` returns, or a factory returning it. `verify`, `flip`
and `rollout` run the parity scenarios `--scenarios MODULE:ATTR` (or FIGWAY_SCENARIOS)
names: a parity Suite (the demo's own by default)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.target import (
    ENV_VAR,
    SCENARIOS_DOCS,
    SCENARIOS_VAR,
    Target,
    TargetError,
    app_spec,
    load_object,
)

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.db.migrate import History

# What the `demo` extra of pyproject.toml installs, by import name: a demo command without
# them says how to get them (a test keeps this list and the extra in step).
DEMO_MODULES = frozenset(
    {
        "requests",
        "aiohttp",
        "PIL",
        "yt_dlp",
        "celery",
        "imageio_ffmpeg",
        "multipart",
        "python_multipart",
        "fastapi_offline",
        "orjson",
        "socketio",
    }
)
# The Flask side's import names: the `legacy` extra (a gateway with every route on FastAPI
# runs without it).
LEGACY_MODULES = frozenset({"flask", "werkzeug", "flask_socketio"})

APP_HELP = (
    f"the app to work on, MODULE:ATTR: a gateway from create_gateway or a factory returning "
    f"it (default: ${ENV_VAR}, else the demo)"
)
SCENARIOS_HELP = (
    f"the parity scenarios to run, MODULE:ATTR naming a parity.Suite (default: "
    f"${SCENARIOS_VAR}, else the demo's own); see {SCENARIOS_DOCS}"
)
# The commands that run parity scenarios: they take --scenarios after the command too.
SCENARIO_COMMANDS = ("verify", "flip", "rollout")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.target = Target(app_spec(args.app), app_spec(args.scenarios, SCENARIOS_VAR))
    try:
        result: int = args.handler(args)
    except TargetError as exc:
        print(f"figway: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        module = (exc.name or "").split(".")[0]
        if module in LEGACY_MODULES:
            print(
                f"figway: {args.target.name} needs Flask (no module {exc.name!r}), as some route"
                " is owned by flask or a command reads the Flask app: pip install"
                " 'figway[legacy]'",
                file=sys.stderr,
            )
            return 2
        if not (args.target.is_demo and module in DEMO_MODULES):
            raise
        print(
            f"figway: the demo app needs its extra dependencies (no module {exc.name!r}): "
            "pip install 'figway[demo]'",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:
        from gateway.legacy_side import LegacyUnavailable
        from gateway.manifest import ManifestError
        from shared.config import SettingsError

        if isinstance(exc, SettingsError | LegacyUnavailable):
            print(f"figway: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, ManifestError):  # building the app's gateway checks its manifest
            print(f"figway: {args.target.name}: the manifest is invalid:\n{exc}", file=sys.stderr)
            if any(p.message.startswith("cannot read") for p in exc.problems):
                print(
                    "(no manifest yet? `figway init --app MODULE:FLASK_APP --out PATH` "
                    "writes one from the Flask app's routes)",
                    file=sys.stderr,
                )
            return 1
        raise
    finally:
        args.target.close()
    return result


def _settings(args: argparse.Namespace) -> Settings:
    settings: Settings = args.target.settings
    return settings


def _demo_only(args: argparse.Namespace, command: str) -> bool:
    """True (after saying why) when --app names another app: `command` is the demo's own."""
    if args.target.is_demo:
        return False
    print(
        f"figway {command}: a command of the demo app; it does not apply to --app "
        f"{args.target.spec} (unset {ENV_VAR} or drop --app)",
        file=sys.stderr,
    )
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="figway", description=__doc__)
    parser.add_argument("--app", default=None, metavar="MODULE:ATTR", help=APP_HELP)
    parser.add_argument("--scenarios", default=None, metavar="MODULE:ATTR", help=SCENARIOS_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    init = sub.add_parser(
        "init", help="write a starting manifest from a Flask app's routes (--app MODULE:FLASK_APP)"
    )
    init.add_argument(
        "--out", type=Path, default=Path("migration_status.yaml"), help="the manifest to write"
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=_init)

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

    db = sub.add_parser(
        "db",
        help="database migrations: figway's own tables, and the demo's (--app: figway's only)",
    )
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations (to head by default)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=_db_upgrade)
    down = db_sub.add_parser("downgrade", help="revert migrations (to base by default)")
    down.add_argument("revision", nargs="?", default="base")
    down.set_defaults(handler=_db_downgrade)
    current = db_sub.add_parser("current", help="show the applied revisions")
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

    check = sub.add_parser(
        "check-config",
        help="refuse an unsafe production configuration (exit 1), naming every setting",
    )
    check.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="read the settings from this file alone (KEY=value lines, as systemd's "
        "EnvironmentFile=), not from the environment",
    )
    check.add_argument(
        "--production",
        action="store_true",
        help="check as production whatever FIGWAY_ENV says, and refuse any other "
        "FIGWAY_ENV (the systemd units run this)",
    )
    check.set_defaults(handler=_check_config)

    from gateway.ops_cli import add_commands

    # The one import of the parity package from gateway/: the CLI's, of its light module
    # (the harness loads when a command runs). The flip commands get its check through
    # `vet`, so gateway/ops_cli.py does not import it either.
    from parity.cli import add_command as add_verify
    from parity.cli import vet

    add_commands(sub)
    add_verify(sub)
    parser.set_defaults(vet=vet)
    _app_everywhere(sub)
    return parser


def _app_everywhere(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """--app after the command too (`figway status --app m:gw`); before it works as well.
    So does --scenarios, for the commands that run scenarios."""
    for name, parser in sub.choices.items():
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            for action in nested:
                _app_everywhere(action)
            continue
        parser.add_argument(
            "--app", default=argparse.SUPPRESS, metavar="MODULE:ATTR", help=APP_HELP
        )
        if name in SCENARIO_COMMANDS:
            parser.add_argument(
                "--scenarios", default=argparse.SUPPRESS, metavar="MODULE:ATTR", help=SCENARIOS_HELP
            )


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.protocol import protocol_class

    target: Target = args.target
    if target.is_demo:
        settings = target.settings
        if not _preflight(settings):
            return 2
        app, factory = "gateway.asgi:factory", True
    else:
        settings = target.gateway.settings  # built here: a bad manifest stops us now
        app, factory = str(target.spec), target.resolved is not load_object(str(target.spec))
    uvicorn.run(
        app,
        factory=factory,
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

    if _demo_only(args, "run"):
        return 2
    return run_embedded(_settings(args), host=args.host, port=args.port)


def _histories(args: argparse.Namespace, revision: str) -> list[tuple[str, History, str]]:
    """(name, history, database URL) of what `figway db` works on, in upgrade order:
    figway's own state first, then the demo's schema (the demo's only: another app's schema
    is that app's business). A revision other than head or base is one history's: the
    state's when it names one of figway's revisions, else the demo's."""
    from gateway.state.migrate import STATE
    from shared.db.migrate import DEMO

    settings = _settings(args)
    state = ("figway state", STATE, settings.state_url)
    if not args.target.is_demo:
        return [state]
    demo = ("demo app", DEMO, settings.database_url)
    if revision in ("head", "base"):
        return [state, demo]
    return [state] if STATE.knows(revision) else [demo]


def _db_upgrade(args: argparse.Namespace) -> int:
    revision: str = args.revision
    return _migrate(
        "upgrade", revision, _histories(args, revision), lambda h, url: h.upgrade(url, revision)
    )


def _db_downgrade(args: argparse.Namespace) -> int:
    revision: str = args.revision
    # The reverse of the upgrade's order.
    histories = list(reversed(_histories(args, revision)))
    return _migrate("downgrade", revision, histories, lambda h, url: h.downgrade(url, revision))


def _migrate(
    step: str,
    revision: str,
    histories: list[tuple[str, History, str]],
    run: Callable[[History, str], None],
) -> int:
    from alembic.util import CommandError

    for name, history, url in histories:
        try:
            run(history, url)
        except CommandError as exc:  # a revision this history does not have, say
            print(f"figway db {step}: {name}: {exc}", file=sys.stderr)
            return 2
        print(f"{name}: database at {revision}")
    return 0


def _db_current(args: argparse.Namespace) -> int:
    for name, history, url in _histories(args, "head"):
        print(f"{name}: {history.current(url) or 'empty'} (head: {history.head()})")
    return 0


def _seed_demo(args: argparse.Namespace) -> int:
    from shared.db.engine import create_sync_engine, sync_sessionmaker
    from shared.demo import seed_demo

    if _demo_only(args, "seed-demo"):
        return 2
    settings = _settings(args)
    engine = create_sync_engine(settings)
    try:
        seed_demo(settings, sync_sessionmaker(engine))
    finally:
        engine.dispose()
    return 0


def _routes(args: argparse.Namespace) -> int:
    from gateway.routes import every_route

    target: Target = args.target
    app = target.flask_app()
    if app is None:
        print(
            f"figway routes: the legacy side of {target.name} is not a Flask app: "
            "its routes cannot be read",
            file=sys.stderr,
        )
        return 1
    routes = every_route(app)
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


def _init(args: argparse.Namespace) -> int:
    from gateway.scaffold import InitError, write_manifest

    target: Target = args.target
    app = target.flask_app()
    if app is None:
        print(
            f"figway init: {target.name} has no Flask app to read routes from; "
            "--app MODULE:ATTR naming the Flask app (or a factory returning it)",
            file=sys.stderr,
        )
        return 2
    try:
        count = write_manifest(app, args.out, force=args.force)
    except InitError as exc:
        print(f"figway init: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {count} route(s), every one owned by flask, in phase 1")
    print(
        "next: create_gateway(settings, legacy=..., modern=..., manifest=Path(...)) over it; "
        "`figway --app MODULE:GATEWAY status` checks it against both apps"
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from shared.jobs.celery_app import run_worker

    if _demo_only(args, "worker"):
        return 2
    settings = _settings(args)
    if not settings.redis_url:
        print("figway worker: set REDIS_URL (e.g. redis://127.0.0.1:6379/0)", file=sys.stderr)
        return 2
    run_worker(settings, args.concurrency)
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from gateway.check_config import run

    return run(args)


def _fake_provider(args: argparse.Namespace) -> int:
    from shared.fakes.metadata_provider import run

    run(args.host, args.port, args.latency_ms, args.media_base_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
