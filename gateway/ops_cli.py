"""`figway status | flip | rollout | rollback | canary | history`: ownership changes from a
shell; `figway apply | export`: the fleet's live state (gateway/live.py) from and to the
file; `figway shadow | shadow-report`: shadow traffic (gateway/shadow.py), turned on and
read;
`figway users unlock`: an operator's remedy for an account locked by failed logins."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway.target import Target

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gateway import changes as ops
    from gateway import manifest as mf
    from gateway.table import RouteState

    # The parity check of routes moving to fastapi without a passing verdict
    # (parity.cli.vet, handed over by gateway.cli): it runs their scenarios, raising
    # ChangeRefused by name.
    Vet = Callable[[Target, list[ops.Change], Callable[[str], None]], None]

# Kept here so `figway --help` reads them without loading the manifest module.
OWNERS = ("flask", "fastapi")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser("status", help="routes by phase: owners and percent migrated")
    status.add_argument(
        "--routes", action="store_true", help="also list every route with its owner and auth"
    )
    status.add_argument(
        "--check",
        action="store_true",
        help="check the manifest against the demo's two apps (builds them; --app: always)",
    )
    status.set_defaults(handler=cmd_status)

    flip = sub.add_parser(
        "flip", help='move one route: figway flip "GET /api/version" --to fastapi'
    )
    flip.add_argument("route", help='"METHOD PATH" as in the manifest')
    flip.add_argument("--to", required=True, choices=OWNERS)
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

    canary = sub.add_parser(
        "canary",
        help='send a share of a route\'s callers to fastapi: figway canary "GET /api/x" 10',
    )
    canary.add_argument("route", help='"METHOD PATH" as in the manifest')
    canary.add_argument(
        "percent",
        type=_percent,
        help="0 to 100: the percentage of callers on fastapi (each kept on its side); "
        "off: no canary, the owner serves everyone",
    )
    canary.add_argument("--reason", default=None, help="why (kept in the history)")
    canary.add_argument("--by", default=None, help="who (default: your login name)")
    canary.set_defaults(handler=cmd_canary)

    apply = sub.add_parser(
        "apply",
        help="load the manifest's owners into the live state every gateway serves by "
        "(creates it: from then on changes go to the state database, not the file)",
    )
    apply.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    apply.add_argument(
        "--if-missing",
        action="store_true",
        help="only create the live state when there is none (what each replica runs as it "
        "starts: a restart never undoes the operators' changes); implies --yes",
    )
    apply.add_argument("--reason", default=None, help="why (kept in the history)")
    apply.add_argument("--by", default=None, help="who (default: your login name)")
    apply.set_defaults(handler=cmd_apply)

    export = sub.add_parser(
        "export", help="write the live state's owners back into the manifest (comments kept)"
    )
    export.set_defaults(handler=cmd_export)

    history = sub.add_parser("history", help="the audit history of ownership changes")
    history.add_argument("--limit", type=int, default=50)
    history.add_argument("--route", default=None)
    history.set_defaults(handler=cmd_history)

    shadow = sub.add_parser(
        "shadow",
        help="replay a sample of a GET route's requests on the other side and compare: "
        'figway shadow "GET /api/videos" --sample 10 (--off to stop)',
    )
    shadow.add_argument("route", help='"METHOD PATH" as in the manifest (GET routes only)')
    amount = shadow.add_mutually_exclusive_group(required=True)
    amount.add_argument(
        "--sample", type=_sample, help="the percentage of the route's requests replayed, 1-100"
    )
    amount.add_argument("--off", action="store_true", help="stop shadowing the route")
    shadow.add_argument("--reason", default=None, help="why")
    shadow.add_argument("--by", default=None, help="who (default: your login name)")
    shadow.set_defaults(handler=cmd_shadow)

    report = sub.add_parser(
        "shadow-report",
        help="shadow traffic, fleet-wide: requests compared, match rate, noise, differences",
    )
    report.add_argument("--route", default=None, help='one route, "METHOD PATH"')
    report.set_defaults(handler=cmd_shadow_report)

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


def _percent(text: str) -> int | None:
    from gateway.canary import parse_weight

    try:
        return parse_weight(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _actor(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _target(args: argparse.Namespace) -> Target:
    """The app the command works on (set by gateway.cli.main from --app / FIGWAY_APP)."""
    target: Target | None = getattr(args, "target", None)
    return target if target is not None else Target(None)


def _progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _apply(args: argparse.Namespace, planner: ops.Planner, action: str) -> int:
    """The one flip path (gateway.changes.change), as the CLI: a route moving to fastapi
    without a passing verdict from `figway verify` has its scenarios run here first (by
    `args.vet`; without one, such a move is refused as the admin API refuses it)."""
    from gateway import changes as ops
    from gateway import live
    from gateway import manifest as mf
    from shared.db.engine import sync_sessionmaker

    target = _target(args)
    engine = _state_engine(target)
    vet: Vet | None = getattr(args, "vet", None)

    def run_parity(changes: list[ops.Change]) -> None:
        assert vet is not None
        vet(target, changes, _progress)

    try:
        done = ops.change(
            target.manifest_path,
            planner,
            twins=target.twins(),
            sessions=sync_sessionmaker(engine),
            actor=_actor(args),
            source="cli",
            action=action,
            reason=args.reason,
            force=args.force,
            check_unverified=run_parity if vet is not None else None,
            load_code=True,
            upgrade_hint=_upgrade_command(target),
            publish=live.publisher(target.settings.redis_url),
        )
    except (ops.ChangeRefused, mf.ManifestError, ops.ChangeFailed) as exc:
        return _failed(action, exc)
    finally:
        engine.dispose()
    if not done:
        print("nothing to change: every route named is already there")
    for change in done:
        print(f"{change.route}: {change.from_owner} -> {change.to_owner}")
    if done and done.version is not None:
        print(
            f"written to the live state (version {done.version}); every gateway follows "
            "within a second"
        )
    elif done:
        print(f"written to {target.manifest_path}; running gateways follow within a second")
    return 0


def _failed(action: str, exc: Exception) -> int:
    """Say why the command changed nothing: refused (what was asked cannot be done), or
    failed (the state database could not take it)."""
    from gateway import changes as ops

    refused = "" if isinstance(exc, ops.ChangeFailed) else "refused: "
    print(f"figway {action}: {refused}{exc}", file=sys.stderr)
    return 1


def cmd_flip(args: argparse.Namespace) -> int:
    from gateway import changes as ops

    return _guarded(lambda: ops.plan_flip(args.route, args.to), args, "flip")


def cmd_rollout(args: argparse.Namespace) -> int:
    from gateway import changes as ops

    return _guarded(lambda: ops.plan_phase(args.phase, "fastapi"), args, "rollout")


def cmd_rollback(args: argparse.Namespace) -> int:
    from gateway import changes as ops

    if args.route:
        return _guarded(lambda: ops.plan_flip(args.route, "flask"), args, "rollback")
    if args.phase is not None:
        return _guarded(lambda: ops.plan_phase(args.phase, "flask"), args, "rollback")
    return _guarded(lambda: ops.plan_all("flask"), args, "rollback")


def _guarded(make: Callable[[], ops.Planner], args: argparse.Namespace, action: str) -> int:
    from gateway import changes as ops

    try:
        planner = make()
    except ops.ChangeRefused as exc:
        print(f"figway {action}: refused: {exc}", file=sys.stderr)
        return 1
    return _apply(args, planner, action)


def cmd_canary(args: argparse.Namespace) -> int:
    """Check the route (in the manifest, an HTTP route with a FastAPI twin), then set its
    weight through gateway.canary.set_weight, the one write the admin API makes too."""
    from gateway import canary

    target = _target(args)
    done = _live_change(
        "canary",
        target,
        args,
        lambda manifest: canary.check_weight(manifest, args.route, args.percent, target.twins()),
        canary.set_weight,
        args.percent,
    )
    if done is None:
        return 1
    route, version = done
    if args.percent is None:
        print(f"{route}: no canary; its owner serves every caller")
    else:
        print(f"{route}: {args.percent}% of callers on fastapi; running gateways follow")
    print(f"written to the live state (version {version})")
    return 0


def _live_change(
    command: str,
    target: Target,
    args: argparse.Namespace,
    check: Callable[[mf.Manifest], str],
    write: Callable[..., ops.Done],
    value: int | None,
) -> tuple[str, int | None] | None:
    """A canary's weight or a shadow mode from the command line: `check` the request
    against the manifest (it answers the route's key), then `write` it into the live state
    (canary.set_weight, shadow.set_shadow). The route and the live version, or None once
    it said why nothing changed."""
    from gateway import changes as ops
    from gateway import live
    from gateway import manifest as mf
    from shared.db.engine import sync_sessionmaker

    engine: Engine | None = None
    try:
        key = check(mf.load(target.manifest_path))
        engine = _state_engine(target)
        done = write(
            target.manifest_path,
            sync_sessionmaker(engine),
            key,
            value,
            actor=_actor(args),
            source="cli",
            reason=args.reason,
            publish=live.publisher(target.settings.redis_url),
        )
    except (ops.ChangeRefused, mf.ManifestError, ops.ChangeFailed) as exc:
        _failed(command, exc)
        return None
    finally:
        if engine is not None:
            engine.dispose()
    return key, done.version


def cmd_status(args: argparse.Namespace) -> int:
    from gateway import manifest as mf

    target = _target(args)
    path = target.manifest_path
    try:
        manifest = mf.load(path)
    except mf.ManifestError as exc:
        print(f"manifest {path} is invalid:\n{exc}", file=sys.stderr)
        return 1
    # Another app's manifest was checked against its apps when its gateway was built (to
    # find the manifest); the demo's apps are built only when asked: a glance stays quick.
    checked = args.check or not target.is_demo
    problems = _check(target, manifest) if checked else []
    live_state, live_problem = _read_live(target)
    file_manifest = manifest
    if live_state is not None:
        from gateway import live

        # What the gateways serve by: the live state's owners over the file's routes.
        manifest = live.overlay(manifest, live_state[1])
    rows = mf.status(manifest)
    if checked:
        verdict = "valid" if not problems else "INVALID"
    else:
        verdict = "not checked against the apps: `figway status --check`"
    print(f"manifest: {path} of {target.name} ({verdict})")
    _print_live(file_manifest, live_state, live_problem)
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
    if args.routes:
        width = max((len(e.key) for e in manifest.entries), default=5) + 2
        # The rate limit column only when the manifest declares limits (a group shows its
        # rate); routes without one take FIGWAY_RATE_LIMIT_DEFAULT, if set.
        limits = {e.key: _limit_cell(manifest, e) for e in manifest.entries if e.limit}
        lw = max((len(c) for c in limits.values()), default=0) + 2 if limits else 0
        print()
        head = f"{'limit':<{lw}}" if limits else ""
        print(f"{'route':<{width}}{'phase':>5}  {'owner':<8}{'auth':<10}{head}notes")
        for e in sorted(manifest.entries, key=lambda e: (e.phase, e.path, e.method)):
            cell = f"{limits.get(e.key, '-'):<{lw}}" if limits else ""
            print(f"{e.key:<{width}}{e.phase:>5}  {e.owner:<8}{e.auth:<10}{cell}{e.notes}".rstrip())
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0


def _read_live(target: Target) -> tuple[tuple[int, dict[str, RouteState]] | None, str | None]:
    """The live state ((version, states), None when not created) or why it cannot be read."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway import changes as ops
    from gateway import live

    if live.never_made(target.settings.state_url):
        return None, None
    engine = _state_engine(target)
    try:
        with engine.connect() as conn:
            return live.load_live(conn), None
    except SQLAlchemyError as exc:
        return None, ops.state_problem(exc, _upgrade_command(target))
    finally:
        engine.dispose()


def _print_live(
    manifest: mf.Manifest,
    live_state: tuple[int, dict[str, RouteState]] | None,
    problem: str | None,
) -> None:
    from gateway import live

    if problem is not None:
        print(f"live state: unknown: {problem}")
        return
    if live_state is None:
        print("live state: not created (the manifest file decides)")
        return
    version, states = live_state
    drift = live.drift(manifest, states)
    if not drift:
        print(f"live state: version {version} (the owners below), as the file says")
        return
    print(
        f"live state: version {version} (the owners below); {len(drift)} route(s) differ from "
        "the file (`figway export` writes the owners to it):"
    )
    width = max(len(d.route) for d in drift) + 2
    for d in drift:
        print(f"  {d.route:<{width}}file {d.file:<8} live {live.describe(d.live)}")


def cmd_apply(args: argparse.Namespace) -> int:
    """The manifest's owners into the live state, after showing what changes (route: live
    -> file) and a confirmation."""
    from dataclasses import replace

    from gateway import changes as ops
    from gateway import live
    from gateway import manifest as mf
    from shared.db.engine import sync_sessionmaker

    target = _target(args)
    path = target.manifest_path
    try:
        manifest = mf.load(path)
    except mf.ManifestError as exc:
        print(f"figway apply: manifest {path} is invalid:\n{exc}", file=sys.stderr)
        return 1
    live_state, problem = _read_live(target)
    if problem is not None:
        print(f"figway apply: {problem}", file=sys.stderr)
        return 1
    wanted = {e.key: e.owner for e in manifest.entries}
    if live_state is None:
        on_fastapi = sum(1 for o in wanted.values() if o == "fastapi")
        print(
            f"live state: not created; this creates it from {path}: {len(wanted)} routes "
            f"({len(wanted) - on_fastapi} on flask, {on_fastapi} on fastapi). From then on "
            "flips change the state database, not the file."
        )
    elif args.if_missing:
        print(f"live state version {live_state[0]} exists: left as it is")
        return 0
    else:
        version, states = live_state
        current = live.effective(manifest, states)
        diff = [(k, current[k].owner, o) for k, o in wanted.items() if current[k].owner != o]
        if not diff:
            print(f"nothing to apply: the live state (version {version}) has the file's owners")
            return 0
        print(f"live state version {version} -> the file's owners (route: live -> file):")
        for key, was, now in diff:
            print(f"  {key}: {was} -> {now}")
    moving = [k for k, o in wanted.items() if o == "fastapi"]
    twins = target.twins()
    if twins is not None:
        available = {mf.twin_key(k) for k in twins}
        missing = [k for k in moving if mf.twin_key(k) not in available]
        if missing:
            twinless = ", ".join(missing)
            print(f"figway apply: refused: no FastAPI twin for: {twinless}", file=sys.stderr)
            return 1
    if not (args.yes or args.if_missing):
        if not sys.stdin.isatty():
            print(
                "figway apply: not applied: confirmation needs a terminal; pass --yes to "
                "apply without asking",
                file=sys.stderr,
            )
            return 2
        if input("apply? [y/N] ").strip().lower() not in {"y", "yes"}:
            print("not applied")
            return 1

    def edit(states: dict[str, RouteState]) -> dict[str, RouteState]:
        return {k: replace(states[k], owner=o) for k, o in wanted.items() if k in states}

    engine = _state_engine(target)
    try:
        done = ops.change_states(
            path,
            edit,
            sessions=sync_sessionmaker(engine),
            actor=_actor(args),
            source="cli",
            action="apply",
            reason=args.reason,
            upgrade_hint=_upgrade_command(target),
            publish=live.publisher(target.settings.redis_url),
        )
    except (ops.ChangeFailed, mf.ManifestError) as exc:
        print(f"figway apply: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(
        f"applied: live state version {done.version}, {len(done)} route(s) changed; "
        "every gateway follows within a second"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """The live state's owners into the file, comments and order kept; what the file
    cannot say (canaries, shadows) is named."""
    from gateway import live
    from gateway import manifest as mf

    target = _target(args)
    path = target.manifest_path
    live_state, problem = _read_live(target)
    if problem is not None:
        print(f"figway export: {problem}", file=sys.stderr)
        return 1
    if live_state is None:
        print(
            "figway export: live state: not created (the manifest file decides); nothing to export",
            file=sys.stderr,
        )
        return 1
    version, states = live_state
    try:
        with mf.locked(path):
            manifest = mf.load(path)
            current = live.effective(manifest, states)
            moved = {e.key: (e.owner, current[e.key].owner) for e in manifest.entries}
            moved = {k: v for k, v in moved.items() if v[0] != v[1]}
            if moved:
                mf.set_owners(path, {k: v[1] for k, v in moved.items()})
    except mf.ManifestError as exc:
        print(f"figway export: manifest {path} is invalid:\n{exc}", file=sys.stderr)
        return 1
    for key, (was, now) in moved.items():
        print(f"{key}: {was} -> {now}")
    if moved:
        print(f"written to {path}: the live state's owners (version {version})")
    else:
        print(f"nothing to export: {path} has the live state's owners (version {version})")
    drift = live.drift(manifest, states)
    unsaid = [d for d in drift if d.live.weight is not None or d.live.mode != live.SERVE]
    if unsaid:
        print("not in the file (it has no words for them), kept in the live state:")
        for d in unsaid:
            print(f"  {d.route}: {live.describe(d.live)}")
    return 0


def _limit_cell(manifest: mf.Manifest, entry: mf.Entry) -> str:
    group = manifest.limits.get(entry.limit or "")
    return f"{entry.limit}={group}" if group else str(entry.limit)


def _check(target: Target, manifest: mf.Manifest) -> list[mf.Problem]:
    """The manifest against the target's two apps, as create_gateway checks it."""
    from gateway import manifest as mf

    return mf.check_routes(manifest, target.legacy_keys(), target.twins())


def _state_engine(target: Target) -> Engine:
    """An engine on the database of figway's own tables (gateway/state) for the target."""
    from gateway.state import state_settings
    from shared.db.engine import create_sync_engine

    return create_sync_engine(state_settings(target.settings, pool_size=1))


def _upgrade_command(target: Target) -> str:
    from gateway.state import upgrade_command

    return upgrade_command(target.spec)


def cmd_history(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from gateway import changes as ops
    from shared.db.engine import sync_sessionmaker

    target = _target(args)
    engine = _state_engine(target)
    try:
        with sync_sessionmaker(engine)() as session:
            rows = ops.history(session, args.limit, args.route)
    except SQLAlchemyError as exc:
        problem = ops.state_problem(exc, _upgrade_command(target))
        print(f"figway history: {problem}", file=sys.stderr)
        return 1
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


def _sample(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole percentage, 1 to 100") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value}: a percentage, 1 to 100")
    return value


def cmd_shadow(args: argparse.Namespace) -> int:
    from gateway import shadow

    sample = None if args.off else args.sample
    done = _live_change(
        "shadow",
        _target(args),
        args,
        lambda manifest: shadow.check_shadow_request(
            args.route, sample, [e.key for e in manifest.entries]
        ),
        shadow.set_shadow,
        sample,
    )
    if done is None:
        return 1
    key, version = done
    print(f"{key}: shadow {'off' if sample is None else f'{sample}%'}")
    print(f"written to the live state (version {version})")
    return 0


def cmd_shadow_report(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from gateway import changes as ops
    from gateway import manifest as mf
    from gateway.shadow import shadow_report
    from shared.db.engine import sync_sessionmaker

    target = _target(args)
    settings = target.settings
    route = mf.normalize_key(args.route) if args.route else None
    engine = _state_engine(target)
    try:
        with sync_sessionmaker(engine)() as session:
            found = shadow_report(
                session,
                route,
                settings.shadow_absolute_threshold,
                settings.shadow_relative_threshold,
            )
    except SQLAlchemyError as exc:
        print(
            f"figway shadow-report: {ops.state_problem(exc, _upgrade_command(target))}",
            file=sys.stderr,
        )
        return 1
    finally:
        engine.dispose()
    if not found:
        print("no shadow traffic recorded" + (f" for {route}" if route else ""))
    for row in found:
        print(shadow_lines(row))
    return 0


def shadow_lines(row: dict[str, Any]) -> str:
    """One route's shadow figures as `figway shadow-report` prints them."""
    rate = "-" if row["match_rate"] is None else f"{100 * row['match_rate']:.1f}%"
    lines = [
        f"{row['route']}: {row['compared']} compared, {row['matched']} matched ({rate}), "
        f"{row['differing']} differing; {row['dropped']} dropped, {row['skipped']} skipped, "
        f"{row['errors']} errors"
    ]
    if row["noise"]:
        noisy = ", ".join(f"{name} ({count})" for name, count in row["noise"].items())
        lines.append(f"  noise: {noisy}")
    if not row["differences"]:
        lines.append("  differences: none past the thresholds")
    for found in row["differences"]:
        lines.append(
            f"  {found['field']}: differs in {found['differing']} of {row['compared']} "
            f"(noise {found['noise']})"
        )
        example = found["example"]
        if example is not None:
            lines.append(
                f"    e.g. {example['method']} {example['target']}: owner {example['owner']}, "
                f"other {example['other']}"
            )
    return "\n".join(lines)


def cmd_users_unlock(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from shared.db.engine import create_sync_engine, sync_sessionmaker
    from shared.db.models import User
    from shared.services import auth as auth_service

    target = _target(args)
    if not target.is_demo:
        print(
            f"figway users unlock: the demo app's accounts; it does not apply to --app "
            f"{target.spec}",
            file=sys.stderr,
        )
        return 2
    engine = create_sync_engine(target.settings)
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
