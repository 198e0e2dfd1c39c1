"""`figway verify [--phase N] [--route R] [--database-url URL]`, and the parity check the
flip path runs for routes without a passing verdict (gateway/cli.py hands it to
gateway/ops_cli.py, so no module of gateway/ imports this package but the CLI's).

Kept light: `figway --help` imports this module; the harness loads on first use."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway.target import Target, TargetError

if TYPE_CHECKING:
    from gateway.changes import Change
    from parity.harness import Harness
    from parity.runner import Outcome


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = sub.add_parser(
        "verify",
        help="run the parity scenarios: does each FastAPI twin answer like its Flask original?",
    )
    verify.add_argument("--phase", type=int, default=None)
    verify.add_argument("--route", default=None, help='one route, "METHOD PATH"')
    verify.add_argument(
        "--database-url",
        default=None,
        help="a MariaDB server to run the demo's scenarios on (default: SQLite files)",
    )
    verify.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from gateway import manifest as mf
    from parity.harness import load

    target: Target = getattr(args, "target", None) or Target(None)
    harness = load(target, args.database_url)
    manifest = mf.load(target.manifest_path)
    entries = [
        e
        for e in manifest.entries
        if (args.phase is None or e.phase == args.phase)
        and (args.route is None or e.key == mf.normalize_key(args.route))
    ]
    if not entries:
        print("figway verify: no route matches", file=sys.stderr)
        return 2
    modern = target.modern_app()
    twins = {mf.twin_key(k) for k in target.twins() or ()}
    with_twin = [e for e in entries if mf.twin_key(e.key) in twins]
    outcomes = harness.run(harness.select({e.key for e in with_twin}), None)
    by_route: dict[str, list[Outcome[Any]]] = defaultdict(list)
    for outcome in outcomes:
        by_route[outcome.scenario.route].append(outcome)
    failed = False
    print(f"{'route':<52}{'scenarios':>10}{'matched':>9}{'mismatched':>12}  first difference")
    for entry in with_twin:
        results = by_route.get(entry.key, [])
        bad = [o for o in results if o.difference is not None]
        if not results:
            failed = True
            first = f"no scenarios: add some to {harness.where}"
        else:
            first = f"[{bad[0].scenario.name}] {bad[0].difference}" if bad else ""
        failed = failed or bool(bad)
        print(
            f"{entry.key:<52}{len(results):>10}{len(results) - len(bad):>9}{len(bad):>12}  {first}"
        )
    if with_twin:
        results_by_route = {e.key: by_route.get(e.key, []) for e in with_twin}
        _record_verdicts(target, harness, results_by_route, modern)
    skipped = len(entries) - len(with_twin)
    if skipped:
        print(f"({skipped} route(s) without a FastAPI twin yet, not verified)")
    return 1 if failed else 0


def _record_verdicts(
    target: Target, harness: Harness, results: dict[str, list[Outcome[Any]]], modern: Any
) -> None:
    """Each route's verdict, beside the manifest: what the flip path checks."""
    from gateway import changes as ops
    from parity import verdicts

    legacy = target.flask_app()
    views = verdicts.legacy_views(legacy) if legacy is not None else {}
    twins = verdicts.twin_endpoints(getattr(modern, "routes", ()))
    verdicts.record(
        target.manifest_path, results, legacy=views, twins=twins, sources=harness.sources
    )
    print(f"verdicts written to {ops.verdicts_path(target.manifest_path)}")


def vet(target: Target, changes: list[Change], progress: Callable[[str], None]) -> None:
    """The flip path's check of the routes without a passing verdict: their scenarios run
    here, and must pass (ChangeRefused names each route otherwise)."""
    from gateway import changes as ops
    from parity.harness import load
    from parity.vet import require_parity

    try:
        harness = load(target)
    except TargetError as exc:
        # Nothing to run: the routes are refused by name, with why they are unverified.
        moving = [c.route for c in changes if c.to_owner == "fastapi"]
        why = ops.unverified(target.manifest_path, moving, load_code=True)
        raise ops.ChangeRefused(
            f"no passing parity verdict, and no scenarios to check it with ({exc}); "
            "--force moves anyway:\n  " + "\n  ".join(why.values())
        ) from exc
    print(
        f"checking parity of the {len(changes)} route(s) moving to fastapi "
        "without a passing verdict from `figway verify`...",
        flush=True,
    )
    require_parity(changes, harness, progress=progress)
