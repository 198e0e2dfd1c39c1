"""Flip, roll out, roll back: plan the ownership changes, write the manifest, audit them.

The same operations serve `figway flip|rollout|rollback` and the admin API. Planning is
pure; applying happens under the manifest lock, re-reading the file so two operators
never overwrite each other; each changed route is one row of audit history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import manifest as mf
from shared.clock import isoformat, utcnow
from shared.db.models import ManifestChange


class ChangeRefused(Exception):
    """The operation cannot be applied (unknown route or phase, no twin, ...)."""


@dataclass(frozen=True)
class Change:
    route: str
    phase: int
    from_owner: str
    to_owner: str


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
) -> list[Change]:
    """Plan against the file as it is now and write the result; [] when nothing changes.

    `twins` are the FastAPI app's routes: a route only moves to fastapi if it has one.
    `before_write` sees the plan last: it may refuse it (raise ChangeRefused) or stage
    the audit rows, committed by the caller once the file is written.
    """
    with mf.locked(path):
        manifest = mf.load(path)
        changes = planner(manifest)
        if not changes:
            return []
        if twins is not None:
            available = {mf.twin_key(k) for k in twins}
            missing = [
                c.route
                for c in changes
                if c.to_owner == "fastapi" and mf.twin_key(c.route) not in available
            ]
            if missing:
                raise ChangeRefused("no FastAPI twin for: " + ", ".join(missing))
        if before_write is not None:
            before_write(changes)
        mf.set_owners(path, {c.route: c.to_owner for c in changes})
    return changes


def record(
    session: Session,
    changes: list[Change],
    *,
    actor: str,
    source: str,
    action: str,
    reason: str | None,
) -> None:
    """One audit row per changed route; the caller commits."""
    now = utcnow()
    session.add_all(
        ManifestChange(
            created_at=now,
            actor=actor[:80],
            source=source,
            action=action,
            route=c.route,
            phase=c.phase,
            from_owner=c.from_owner,
            to_owner=c.to_owner,
            reason=reason,
        )
        for c in changes
    )
    session.flush()


def history(session: Session, limit: int = 50, route: str | None = None) -> list[dict[str, Any]]:
    query = select(ManifestChange).order_by(ManifestChange.id.desc()).limit(limit)
    if route is not None:
        query = query.where(ManifestChange.route == mf.normalize_key(route))
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
        for row in session.scalars(query)
    ]


def status(manifest: mf.Manifest) -> list[dict[str, Any]]:
    """Per phase: routes, owner counts, percent migrated (the `figway status` table)."""
    rows = []
    for phase in manifest.phases:
        entries = manifest.in_phase(phase.number)
        fastapi = sum(1 for e in entries if e.owner == "fastapi")
        rows.append(
            {
                "phase": phase.number,
                "name": phase.name,
                "milestone": phase.milestone,
                "routes": len(entries),
                "flask": len(entries) - fastapi,
                "fastapi": fastapi,
                "percent": round(100 * fastapi / len(entries), 1) if entries else 0.0,
            }
        )
    return rows
