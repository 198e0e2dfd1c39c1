"""`figway verify` records its verdicts: per route, passed or not, and a fingerprint of
what it checked (gateway.changes.fingerprint: the legacy view's and the twin's source and
the scenarios' definitions), in `.figway/verdicts.json` beside the manifest. The files
that define the scenarios are named in the verdict, so the flip path recomputes their
digest by reading them.

The flip path (gateway.changes.unverified) reads verdicts without importing this package
or the suite: a move to fastapi, from the CLI or the admin API, needs a passing verdict
whose fingerprint still matches the code and the scenarios. A later issue moves the
verdicts into figway's own tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway import changes as ops
from gateway import manifest as mf
from gateway.routes import flask_routes
from parity.runner import Outcome
from shared.clock import isoformat, utcnow
from shared.web.methods import flat_routes


def legacy_views(app: Any) -> dict[str, str]:
    """Manifest key -> 'module:qualname' of the Flask view that serves it."""
    return {r.key: ops.code_name(app.view_functions[r.endpoint]) for r in flask_routes(app)}


def twin_endpoints(routes: Iterable[Any]) -> dict[str, str]:
    """twin_key -> 'module:qualname' of the FastAPI endpoint that serves it."""
    found: dict[str, str] = {}
    for route in flat_routes(routes):
        endpoint = getattr(route, "endpoint", None)
        path = getattr(route, "path", None)
        if endpoint is None or path is None:
            continue
        for method in getattr(route, "methods", None) or ():
            found.setdefault(mf.twin_key(f"{method} {path}"), ops.code_name(endpoint))
    return found


def record(
    manifest: Path,
    results: Mapping[str, Sequence[Outcome[Any]]],
    *,
    legacy: Mapping[str, str],
    twins: Mapping[str, str],
    sources: Iterable[Path],
) -> dict[str, dict[str, Any]]:
    """Write a verdict for each route of `results` (its outcomes; none is a failure),
    keeping the other routes' verdicts; returns the ones written. `sources`: the files
    that define the scenarios (Harness.sources)."""
    names = ops.source_names(manifest, sources)
    scenarios = ops.scenarios_digest(manifest, names)
    at = isoformat(utcnow())
    written: dict[str, dict[str, Any]] = {}
    for route, outcomes in results.items():
        key = mf.normalize_key(route)
        legacy_name = legacy.get(key, "")
        twin_name = twins.get(mf.twin_key(key), "")
        mismatched = sum(1 for o in outcomes if o.difference is not None)
        written[key] = {
            "passed": bool(outcomes) and mismatched == 0,
            "scenarios": len(outcomes),
            "mismatched": mismatched,
            "legacy": legacy_name,
            "twin": twin_name,
            "sources": names,
            "fingerprint": ops.fingerprint(
                key, legacy_name, twin_name, scenarios=scenarios, load=True
            ),
            "verified_at": at,
        }
    path = ops.verdicts_path(manifest)
    path.parent.mkdir(parents=True, exist_ok=True)
    with mf.locked(path):
        routes = {**ops.load_verdicts(manifest), **written}
        text = json.dumps({"routes": dict(sorted(routes.items()))}, indent=2) + "\n"
        mf.atomic_write(path, text.encode())
    return written
