"""Flip, roll out, roll back: plan the ownership changes, write them, audit them.

Written where the routes are decided: the fleet's live state in the state database once
it exists (gateway/live.py; `figway apply` creates it), else the manifest file, as below.

`change()` is the one flip path: `figway flip|rollout|rollback` and the admin API both
call it. Planning is pure; applying happens under the manifest lock, re-reading the file
so two operators never overwrite each other; each changed route is one row of audit
history, and the file and its rows succeed or fail together: the rows are staged in an
open transaction, the file written, the rows committed, and a commit that fails puts
the previous file back. A flip is never left unaudited. The rows are figway's own
(figway_changes, gateway/state), in the database `Settings.state_url` names.

A route moves to fastapi only with a passing parity verdict for the code as it is now
(or by force): `figway verify` records verdicts (parity/verdicts.py) in
`.figway/verdicts.json` beside the manifest, and `unverified()` here checks them without
importing the parity package, so a serving process never runs scenarios. A later issue
moves the verdicts into figway's own tables.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from importlib import import_module
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway import live
from gateway import manifest as mf
from gateway.live import Change as Change  # re-exported: planners and tests use ops.Change
from gateway.live import record as record
from gateway.state import UPGRADE
from gateway.state.tables import changes as figway_changes
from gateway.table import RouteState
from shared.clock import isoformat
from shared.db.engine import is_unavailable, unavailable_reason


class ChangeRefused(Exception):
    """The operation cannot be applied (unknown route or phase, no twin, ...)."""


class NotVerified(ChangeRefused):
    """Routes would move to fastapi without a passing parity verdict for their code now."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "no passing parity verdict for the code as it is now (run `figway verify "
            '--route "METHOD PATH"`, or force the move):\n  ' + "\n  ".join(problems)
        )


class ChangeFailed(Exception):
    """The change could not be made; the manifest is as it was unless the message says not."""


class AuditFailed(ChangeFailed):
    """The audit rows could not be written, so the manifest change was not made (or was
    undone): the state database is down, or figway's tables there are missing or behind."""


Planner = Callable[[mf.Manifest], list[Change]]


def plan_flip(route: str, to: str) -> Planner:
    if to not in mf.OWNERS:
        raise ChangeRefused(f"unknown owner {to!r}: flask or fastapi")

    def plan(manifest: mf.Manifest) -> list[Change]:
        entry = manifest.entry(route)
        if entry is None:
            raise ChangeRefused(f"no route {mf.normalize_key(route)!r} in {manifest.path}")
        if entry.owner == to:
            return []
        return [Change(entry.key, entry.phase, entry.owner, to)]

    return plan


def plan_phase(phase: int, to: str) -> Planner:
    def plan(manifest: mf.Manifest) -> list[Change]:
        if phase not in {p.number for p in manifest.phases}:
            raise ChangeRefused(f"no phase {phase} in {manifest.path}")
        return [
            Change(e.key, e.phase, e.owner, to) for e in manifest.in_phase(phase) if e.owner != to
        ]

    return plan


def plan_all(to: str) -> Planner:
    def plan(manifest: mf.Manifest) -> list[Change]:
        return [Change(e.key, e.phase, e.owner, to) for e in manifest.entries if e.owner != to]

    return plan


def apply(
    path: Path,
    planner: Planner,
    *,
    twins: Iterable[str] | None,
    before_write: Callable[[list[Change]], None] | None = None,
    after_write: Callable[[list[Change]], None] | None = None,
) -> list[Change]:
    """Plan against the file as it is now and write the result; [] when nothing changes.
    Unaudited on its own (tests and benchmarks flip with it): operators go through change().

    `twins` are the FastAPI app's routes: a route only moves to fastapi if it has one.
    `before_write` sees the plan last: it may refuse it (raise) or stage the audit rows.
    `after_write` runs once the file is written, still under the lock: if it raises, the
    file's previous content is put back and the exception goes on (see change()).
    """
    with mf.locked(path):
        manifest = mf.load(path)
        changes = planner(manifest)
        if not changes:
            return []
        _require_twins(changes, twins)
        if before_write is not None:
            before_write(changes)
        previous = path.read_bytes()
        mf.set_owners(path, {c.route: c.to_owner for c in changes})
        if after_write is not None:
            try:
                after_write(changes)
            except BaseException as exc:
                try:
                    mf.atomic_write(path, previous)
                except OSError as restore:
                    raise ChangeFailed(
                        f"{exc}; putting the previous manifest back failed too ({restore}): "
                        f"{path} holds a change that was not recorded, undo it by hand"
                    ) from exc
                raise
    return changes


def _require_twins(changes: list[Change], twins: Iterable[str] | None) -> None:
    if twins is None:
        return
    available = {mf.twin_key(k) for k in twins}
    missing = [
        c.route
        for c in changes
        if c.to_owner == "fastapi" and mf.twin_key(c.route) not in available
    ]
    if missing:
        raise ChangeRefused("no FastAPI twin for: " + ", ".join(missing))


class Done(list[Change]):
    """What change() did, one Change per route moved; `version` is the live state's after
    it (gateway/live.py), None when the manifest file was written."""

    version: int | None = None

    def __init__(self, changes: Iterable[Change] = (), version: int | None = None) -> None:
        super().__init__(changes)
        self.version = version


def change(
    path: Path,
    planner: Planner,
    *,
    twins: Iterable[str] | None,
    sessions: Callable[[], Session],
    actor: str,
    source: str,
    action: str,
    reason: str | None,
    force: bool = False,
    check_unverified: Callable[[list[Change]], None] | None = None,
    load_code: bool = False,
    upgrade_hint: str = UPGRADE,
    publish: Callable[[int], None] | None = None,
) -> Done:
    """The one flip path (CLI and admin API): plan, check, audit and write, all or nothing.

    Where: the live state in the state database once it exists (gateway/live.py: planned
    against its owners, written with its audit rows in one transaction, then `publish`ed
    with its new version); else the manifest file, as below.

    Routes moving to fastapi need a passing verdict for their code as it is now, unless
    `force`; without one, `check_unverified` (the CLI runs the scenarios itself) may vouch
    for them by returning, else NotVerified names them. It runs before the manifest lock
    is taken: the lock is never held while scenarios run.

    Under the lock: the audit rows are staged in an open transaction of a session from
    `sessions`, the file is written, the rows are committed; a commit that fails puts the
    previous file back. AuditFailed when the state database cannot take the rows (the
    message names `upgrade_hint` when its tables are missing or behind).
    `load_code`: import the modules a verdict names if not loaded (the CLI; a server has
    its apps loaded and never imports on an operator's say).
    """
    twins = None if twins is None else list(twins)
    session = sessions()
    try:
        try:
            states = live.load_states(session)
        except SQLAlchemyError as exc:
            raise _not_recorded(exc, upgrade_hint) from exc
        finally:
            _rollback(session)
        if states is not None:
            return _change_live(
                path, planner, twins, session, states, actor, source, action, reason, force,
                check_unverified, load_code, upgrade_hint, publish,
            )  # fmt: skip
        manifest = mf.load(path)
        vouched = _vouch(path, planner(manifest), twins, force, check_unverified, load_code)

        def stage(changes: list[Change]) -> None:
            _late(path, changes, vouched, force, load_code)
            try:
                if live.read_version(session) is not None:
                    # Created since it was looked for: the file no longer decides.
                    raise ChangeFailed(
                        "the live state was created meanwhile (`figway apply`); nothing "
                        "was changed: run the command again"
                    )
                record(session, changes, actor=actor, source=source, action=action, reason=reason)
            except SQLAlchemyError as exc:
                raise _not_recorded(exc, upgrade_hint) from exc

        def commit(_changes: list[Change]) -> None:
            try:
                session.commit()
            except SQLAlchemyError as exc:
                raise AuditFailed(
                    "the database failed to record the change, so it was undone "
                    f"({unavailable_reason(exc)})"
                ) from exc

        return Done(apply(path, planner, twins=twins, before_write=stage, after_write=commit))
    finally:
        session.close()


def _change_live(
    path: Path,
    planner: Planner,
    twins: list[str] | None,
    session: Session,
    states: dict[str, RouteState],
    actor: str,
    source: str,
    action: str,
    reason: str | None,
    force: bool,
    check_unverified: Callable[[list[Change]], None] | None,
    load_code: bool,
    upgrade_hint: str,
    publish: Callable[[int], None] | None,
) -> Done:
    """change() once the live state exists: planned against the live owners over the
    file's routes, and written by live.write(), re-planned there under its lock."""
    manifest = mf.load(path)
    vouched = _vouch(
        path, planner(live.overlay(manifest, states)), twins, force, check_unverified, load_code
    )

    def edit(current: dict[str, RouteState]) -> dict[str, RouteState]:
        changes = planner(live.overlay(manifest, current))
        _require_twins(changes, twins)
        _late(path, changes, vouched, force, load_code)
        return {c.route: replace(current[c.route], owner=c.to_owner) for c in changes}

    try:
        written = live.write(
            session, manifest, edit, actor=actor, source=source, action=action, reason=reason
        )
    except live.NotLive as exc:
        raise ChangeFailed("the live state was removed meanwhile; nothing was changed") from exc
    except SQLAlchemyError as exc:
        raise _not_recorded(exc, upgrade_hint) from exc
    if written.changes and publish is not None:
        publish(written.version)
    return Done(written.changes, written.version)


def change_states(
    path: Path,
    edit: live.Edit,
    *,
    sessions: Callable[[], Session],
    actor: str,
    source: str,
    action: str,
    reason: str | None,
    upgrade_hint: str = UPGRADE,
    publish: Callable[[int], None] | None = None,
) -> Done:
    """Any change of the live state beyond owners (a canary's weight, a mode, a sample;
    action `canary` or `shadow`), through live.write(): `edit` gets every route's state
    as it is under the write's lock and returns the routes it changes. The live state is
    created from the file first when it does not exist yet (the file cannot say a weight
    or a mode). The audit rows note what changed beside the owner. AuditFailed when the
    state database cannot take it."""
    manifest = mf.load(path)
    session = sessions()
    try:
        written = live.write(
            session,
            manifest,
            edit,
            actor=actor,
            source=source,
            action=action,
            reason=reason,
            create=True,
        )
    except SQLAlchemyError as exc:
        raise _not_recorded(exc, upgrade_hint) from exc
    finally:
        session.close()
    if (written.changes or written.created) and publish is not None:
        publish(written.version)
    return Done(written.changes, written.version)


def _vouch(
    path: Path,
    planned: list[Change],
    twins: list[str] | None,
    force: bool,
    check_unverified: Callable[[list[Change]], None] | None,
    load_code: bool,
) -> set[str]:
    """Before any lock: the routes of the plan moving to fastapi without a passing verdict
    are vouched for by `check_unverified` (their names returned), else NotVerified."""
    if force:
        return set()
    _require_twins(planned, twins)
    moving = [c.route for c in planned if c.to_owner == "fastapi"]
    problems = unverified(path, moving, load_code=load_code)
    if not problems:
        return set()
    if check_unverified is None:
        raise NotVerified(list(problems.values()))
    check_unverified([c for c in planned if c.route in problems])
    return set(problems)


def _late(
    path: Path, changes: list[Change], vouched: set[str], force: bool, load_code: bool
) -> None:
    """Under the lock: the plan may have grown since it was vouched for."""
    if force:
        return
    moving = [c.route for c in changes if c.to_owner == "fastapi"]
    late = unverified(path, [r for r in moving if r not in vouched], load_code=load_code)
    if late:
        raise NotVerified(list(late.values()))


def _not_recorded(exc: SQLAlchemyError, upgrade_hint: str) -> AuditFailed:
    hint = "" if is_unavailable(exc) else f"; {state_hint(upgrade_hint)}"
    return AuditFailed(
        f"the change cannot be recorded in the database, so it was not made "
        f"({unavailable_reason(exc)}){hint}"
    )


def _rollback(session: Session) -> None:
    try:
        session.rollback()
    except SQLAlchemyError:
        session.invalidate()  # a connection lost: the pool makes a new one


def history(session: Session, limit: int = 50, route: str | None = None) -> list[dict[str, Any]]:
    """The latest `limit` changes (of one route), newest first."""
    t = figway_changes.c
    query = select(figway_changes).order_by(t.id.desc()).limit(limit)
    if route is not None:
        query = query.where(t.route == mf.normalize_key(route))
    return [
        {
            "id": row.id,
            "at": isoformat(row.created_at),
            "actor": row.actor,
            "source": row.source,
            "action": row.action,
            "route": row.route,
            "phase": row.phase,
            "from": row.from_owner,
            "to": row.to_owner,
            "reason": row.reason,
        }
        for row in session.execute(query)
    ]


def state_hint(upgrade_hint: str = UPGRADE) -> str:
    """What to do when figway's state tables cannot be used though the database answers."""
    return f"are figway's state tables there and current? run `{upgrade_hint}`"


def state_problem(exc: SQLAlchemyError, upgrade_hint: str = UPGRADE) -> str:
    """Why the state tables could not be read, for an operator: the database is down, or
    they are missing (or behind) and `upgrade_hint` makes them."""
    if is_unavailable(exc):
        return f"the state database is unavailable ({unavailable_reason(exc)})"
    return f"figway's state tables cannot be read ({unavailable_reason(exc)}); " + state_hint(
        upgrade_hint
    )


# The `figway status` table: the manifest module's (a glance at it loads nothing here).
status = mf.status


# --- parity verdicts ---------------------------------------------------------------------
# What `figway verify` found, per route, for the code it checked: a JSON file beside the
# manifest (.figway/verdicts.json; a later issue moves it into figway's own tables). This
# module reads it and never imports the parity package (nor a suite module): a server
# checks verdicts, it never runs scenarios.

VERDICTS_DIR = ".figway"
VERDICTS_FILE = "verdicts.json"


def verdicts_path(manifest: Path) -> Path:
    return manifest.parent / VERDICTS_DIR / VERDICTS_FILE


def load_verdicts(manifest: Path) -> dict[str, dict[str, Any]]:
    """Route -> its last verdict; {} when there is no file or it cannot be read."""
    try:
        data = json.loads(verdicts_path(manifest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    routes = data.get("routes") if isinstance(data, dict) else None
    if not isinstance(routes, dict):
        return {}
    return {str(k): v for k, v in routes.items() if isinstance(v, dict)}


def code_name(obj: Any) -> str:
    """'module:qualname' of a view or endpoint, past its decorators."""
    target = inspect.unwrap(obj)
    return f"{target.__module__}:{target.__qualname__}"


def code_digest(name: str, *, load: bool = False) -> str | None:
    """sha256 of the source of `name` ('module:qualname') as it is on disk now; None when
    it cannot be found. The module is taken from those loaded, imported only if `load`."""
    module_name, _, qualname = name.partition(":")
    module = sys.modules.get(module_name)
    if module is None and load:
        try:
            module = import_module(module_name)
        except Exception:  # an unimportable module: no digest, so no verdict holds
            return None
    parts = qualname.split(".")
    if "<locals>" in parts:
        # A view made inside a factory (Flask's `create_app` pattern) has no name of its
        # own to look up: the factory's source, which holds the view's, stands for it, so
        # any edit of the factory asks for a new `figway verify`.
        parts = parts[: parts.index("<locals>")]
    if module is None or not parts or not parts[0] or any("<" in p for p in parts):
        return None
    obj: Any = module
    for part in parts:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    try:
        source = inspect.getsource(inspect.unwrap(obj))
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()


def source_names(manifest: Path, files: Iterable[Path]) -> list[str]:
    """How a verdict names the files that define its scenarios: relative to the manifest's
    directory when under it (the project may move), else absolute."""
    base = manifest.parent.resolve()
    names = set()
    for file in files:
        path = file.resolve()
        names.add(path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path))
    return sorted(names)


def scenarios_digest(manifest: Path, sources: Iterable[str]) -> str:
    """sha256 of the scenarios' definitions: each file a verdict names (source_names), by
    name and content, read as text (never imported): any edit asks for a new verify."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0")
        try:
            digest.update((manifest.parent / name).read_bytes())  # an absolute name stays
        except OSError:
            digest.update(b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()


def fingerprint(
    route: str, legacy: str, twin: str, *, scenarios: str, load: bool = False
) -> str | None:
    """What a verdict vouches for: the route, the legacy view's and the twin's source (by
    'module:qualname') and the scenarios' definitions. None when some source is missing."""
    legacy_digest = code_digest(legacy, load=load)
    twin_digest = code_digest(twin, load=load)
    if legacy_digest is None or twin_digest is None:
        return None
    parts = {
        "route": mf.normalize_key(route),
        "legacy": legacy_digest,
        "twin": twin_digest,
        "scenarios": scenarios,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def unverified(manifest: Path, routes: Iterable[str], *, load_code: bool = False) -> dict[str, str]:
    """Route -> why it has no passing verdict for its code as it is now; {} when all do."""
    wanted = sorted({mf.normalize_key(r) for r in routes})
    if not wanted:
        return {}
    verdicts = load_verdicts(manifest)
    digests: dict[tuple[str, ...], str] = {}  # routes of one suite share their files
    problems: dict[str, str] = {}
    for route in wanted:
        verdict = verdicts.get(route)
        if verdict is None:
            problems[route] = f"{route}: never verified"
            continue
        at = verdict.get("verified_at", "?")
        if verdict.get("passed") is not True:
            problems[route] = f"{route}: failed parity when verified at {at}"
            continue
        sources = verdict.get("sources")
        # No list of files (a verdict of an older figway): nothing it vouches for holds.
        names = tuple(map(str, sources)) if isinstance(sources, list) else ()
        if names not in digests:
            digests[names] = scenarios_digest(manifest, names) if names else ""
        now = fingerprint(
            route,
            str(verdict.get("legacy", "")),
            str(verdict.get("twin", "")),
            scenarios=digests[names],
            load=load_code,
        )
        if now is None or now != verdict.get("fingerprint"):
            problems[route] = f"{route}: its code or scenarios changed since verified at {at}"
    return problems
