"""`figway verify [--phase N] [--route R] [--database-url URL]`."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from typing import Any

from gateway.target import Target


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = sub.add_parser(
        "verify",
        help="run the parity scenarios: does each FastAPI twin answer like its Flask original?",
    )
    verify.add_argument("--phase", type=int, default=None)
    verify.add_argument("--route", default=None, help='one route, "METHOD PATH"')
    verify.add_argument(
        "--database-url", default=None, help="a MariaDB server to run on (default: SQLite files)"
    )
    verify.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from gateway import manifest as mf
    from gateway.parity import runner

    target: Target = getattr(args, "target", None) or Target(None)
    catalogue = target.scenarios()
    if not catalogue:
        print(
            f"figway verify: no parity scenarios for {target.name}: the scenario catalogue "
            "(gateway/parity/catalogue/) covers the demo app only, so nothing can be "
            "verified; flips of this app to fastapi need --force",
            file=sys.stderr,
        )
        return 2
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
    wanted = {e.key for e in with_twin}
    outcomes = runner.run([s for s in catalogue if s.route in wanted], args.database_url)
    by_route: dict[str, list[runner.Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_route[outcome.scenario.route].append(outcome)
    failed = False
    print(f"{'route':<52}{'scenarios':>10}{'matched':>9}{'mismatched':>12}  first difference")
    for entry in with_twin:
        results = by_route.get(entry.key, [])
        bad = [o for o in results if o.difference is not None]
        if not results:
            failed = True
            first = "no scenarios: add some to gateway/parity/catalogue/"
        else:
            first = f"[{bad[0].scenario.name}] {bad[0].difference}" if bad else ""
        failed = failed or bool(bad)
        print(
            f"{entry.key:<52}{len(results):>10}{len(results) - len(bad):>9}{len(bad):>12}  {first}"
        )
    if with_twin:
        _record_verdicts(target, {e.key: by_route.get(e.key, []) for e in with_twin}, modern)
    skipped = len(entries) - len(with_twin)
    if skipped:
        print(f"({skipped} route(s) without a FastAPI twin yet, not verified)")
    return 1 if failed else 0


def _record_verdicts(target: Target, results: dict[str, list[Any]], modern: Any) -> None:
    """Each route's verdict, beside the manifest: what the flip path checks."""
    from gateway import changes as ops
    from gateway.parity import verdicts

    legacy = target.flask_app()
    views = verdicts.legacy_views(legacy) if legacy is not None else {}
    twins = verdicts.twin_endpoints(getattr(modern, "routes", ()))
    verdicts.record(target.manifest_path, results, legacy=views, twins=twins)
    print(f"verdicts written to {ops.verdicts_path(target.manifest_path)}")
