"""`figway status | flip | rollout | rollback | history`: ownership changes from a shell;
`figway users unlock`: an operator's remedy for an account locked by failed logins."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from sqlalchemy import select

from gateway import changes as ops
from gateway import manifest as mf
from gateway.parity.vet import require_parity
from shared.config import Settings
from shared.db.engine import create_sync_engine, sync_sessionmaker
from shared.db.models import User
from shared.services import auth as auth_service


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser("status", help="routes by phase: owners and percent migrated")
    status.set_defaults(handler=cmd_status)

    flip = sub.add_parser(
        "flip", help='move one route: figway flip "GET /api/version" --to fastapi'
    )
    flip.add_argument("route", help='"METHOD PATH" as in the manifest')
    flip.add_argument("--to", required=True, choices=mf.OWNERS)
    _change_args(flip)
    flip.set_defaults(handler=cmd_flip)

    rollout = sub.add_parser("rollout", help="move every route of a phase to fastapi")
    rollout.add_argument("--phase", type=int, required=True)
    _change_args(rollout)
    rollout.set_defaults(handler=cmd_rollout)

    rollback = sub.add_parser("rollback", help="move routes back to flask")
    target = rollback.add_mutually_exclusive_group(required=True)
    target.add_argument("route", nargs="?", help='one route, "METHOD PATH"')
    target.add_argument("--phase", type=int)
    target.add_argument("--all", action="store_true")
    _change_args(rollback)
    rollback.set_defaults(handler=cmd_rollback)

    history = sub.add_parser("history", help="the audit history of ownership changes")
    history.add_argument("--limit", type=int, default=50)
    history.add_argument("--route", default=None)
    history.set_defaults(handler=cmd_history)

    users = sub.add_parser("users", help="user accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    unlock = users_sub.add_parser(
        "unlock", help="lift the lock failed logins put on an account, and its failure count"
    )
    unlock.add_argument("username")
    unlock.set_defaults(handler=cmd_users_unlock)


def _change_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", default=None, help="why (kept in the history)")
    p.add_argument("--by", default=None, help="who (default: your login name)")
    p.add_argument(
        "--force", action="store_true", help="move to fastapi even without passing parity scenarios"
    )


def _actor(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _twins(settings: Settings) -> list[str]:
    from fastapi_app import create_fastapi_app
    from gateway.app import modern_route_keys

    return modern_route_keys(create_fastapi_app(settings).routes)


def _apply(args: argparse.Namespace, planner: ops.Planner, action: str) -> int:
    """The one flip path (gateway.changes.change), as the CLI: a route moving to fastapi
    without a passing verdict from `figway verify` has its scenarios run here first."""
    settings = Settings()
    engine = create_sync_engine(settings)

    def run_parity(changes: list[ops.Change]) -> None:
        print(
            f"checking parity of the {len(changes)} route(s) moving to fastapi "
            "without a passing verdict from `figway verify`...",
            flush=True,
        )
        require_parity(changes)

    try:
        done = ops.change(
            settings.manifest,
            planner,
            twins=_twins(settings),
            sessions=sync_sessionmaker(engine),
            actor=_actor(args),
            source="cli",
            action=action,
            reason=args.reason,
            force=args.force,
            check_unverified=run_parity,
            load_code=True,
        )
    except (ops.ChangeRefused, mf.ManifestError) as exc:
        print(f"figway {action}: refused: {exc}", file=sys.stderr)
        return 1
    except ops.ChangeFailed as exc:
        print(f"figway {action}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if not done:
        print("nothing to change: every route named is already there")
    for change in done:
        print(f"{change.route}: {change.from_owner} -> {change.to_owner}")
    if done:
        print(f"written to {settings.manifest}; running gateways follow within a second")
    return 0


def cmd_flip(args: argparse.Namespace) -> int:
    return _guarded(lambda: ops.plan_flip(args.route, args.to), args, "flip")


def cmd_rollout(args: argparse.Namespace) -> int:
    return _guarded(lambda: ops.plan_phase(args.phase, "fastapi"), args, "rollout")


def cmd_rollback(args: argparse.Namespace) -> int:
    if args.route:
        return _guarded(lambda: ops.plan_flip(args.route, "flask"), args, "rollback")
    if args.phase is not None:
        return _guarded(lambda: ops.plan_phase(args.phase, "flask"), args, "rollback")
    return _guarded(lambda: ops.plan_all("flask"), args, "rollback")


def _guarded(make: Callable[[], ops.Planner], args: argparse.Namespace, action: str) -> int:
    try:
        planner = make()
    except ops.ChangeRefused as exc:
        print(f"figway {action}: refused: {exc}", file=sys.stderr)
        return 1
    return _apply(args, planner, action)


def cmd_status(_args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        manifest = mf.load(settings.manifest)
    except mf.ManifestError as exc:
        print(f"manifest {settings.manifest} is invalid:\n{exc}", file=sys.stderr)
        return 1
    problems = _check(settings, manifest)
    rows = ops.status(manifest)
    print(f"manifest: {settings.manifest} ({'valid' if not problems else 'INVALID'})")
    header = f"{'phase':<6}{'name':<38}{'milestone':<11}{'routes':>7}{'flask':>7}{'fastapi':>9}"
    print(header + f"{'migrated':>10}")
    for r in rows:
        print(
            f"{r['phase']:<6}{r['name'][:37]:<38}{r['milestone']:<11}{r['routes']:>7}"
            f"{r['flask']:>7}{r['fastapi']:>9}{r['percent']:>9.1f}%"
        )
    total = sum(r["routes"] for r in rows)
    fastapi = sum(r["fastapi"] for r in rows)
    percent = 100 * fastapi / total if total else 0.0
    print(f"{'total':<55}{total:>7}{total - fastapi:>7}{fastapi:>9}{percent:>9.1f}%")
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0


def _check(settings: Settings, manifest: mf.Manifest) -> list[mf.Problem]:
    from gateway.routes import flask_routes
    from legacy_flask import create_app

    app = create_app(settings)
    try:
        legacy = [r.key for r in flask_routes(app)]
    finally:
        app.extensions["figway"].close()
    return mf.check_routes(manifest, legacy, _twins(settings))


def cmd_history(args: argparse.Namespace) -> int:
    settings = Settings()
    engine = create_sync_engine(settings)
    try:
        with sync_sessionmaker(engine)() as session:
            rows = ops.history(session, args.limit, args.route)
    finally:
        engine.dispose()
    if not rows:
        print("no ownership changes recorded")
    for row in reversed(rows):
        reason = f"  ({row['reason']})" if row["reason"] else ""
        print(
            f"{row['at']}  {row['actor']:<12} {row['source']:<4} {row['action']:<8} "
            f"{row['route']}: {row['from']} -> {row['to']}{reason}"
        )
    return 0


def cmd_users_unlock(args: argparse.Namespace) -> int:
    engine = create_sync_engine(Settings())
    try:
        with sync_sessionmaker(engine)() as session:
            user = session.scalars(select(User).where(User.username == args.username)).one_or_none()
            if user is None:
                print(f"figway users unlock: no user named {args.username!r}", file=sys.stderr)
                return 1
            auth_service.unlock(session, user)
            session.commit()
    finally:
        engine.dispose()
    print(f"{args.username}: unlocked")
    return 0
