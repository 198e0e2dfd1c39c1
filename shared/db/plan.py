"""Work of several statements, written once and executed natively by each side.

A read is one statement and a function of its rows (shared/services/videos.py shows
them). A write usually needs more: look a row up, check a constraint, insert, read the
answer back, each step depending on the one before. Written as a sync service it can only
run on a sync Session, which is what the twins used to bridge with `run_sync`. Written as
a *plan* it runs on either:

    def rename(playlist_id: int, name: str) -> Plan[dict[str, Any]]:
        row = (yield PLAYLIST_STMT, {"id": playlist_id}).mappings().one_or_none()
        if row is None:
            raise NotFound("Playlist not found")
        yield update(PLAYLISTS).where(...).values(name=name)
        return playlist_json(row | {"name": name})

A plan is a generator that yields a statement (or a statement and its parameters), is
sent back the statement's Result, and returns the answer. It does no IO itself, so it is
the same code on both sides: the legacy side runs it on its sync Session
(`run(db(), rename, 1, "x")`), the twin awaits it on its AsyncConnection
(`await arun(db, rename, 1, "x")`). A statement's database error is thrown into the plan
at the `yield` that ran it, so a plan maps it where it happened (an IntegrityError to a
409); what it does not catch propagates to the caller unchanged. Plans never commit: the
caller owns the transaction, as with the services before them.

A plan marked with `@retry_lock_races` is run again from the start of a fresh transaction
when InnoDB made it a deadlock's victim (or it timed out waiting for a lock): the whole
transaction was undone, so running it again is safe. Such a plan must be the only work of
its transaction (both sides commit the caller's lookup before it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, ParamSpec, TypeAlias, TypeVar, cast

from sqlalchemy import Connection, CursorResult, Executable
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session

from shared.db.dialects import in_transaction
from shared.db.engine import LOCK_RACE_ATTEMPTS, is_lock_race, unavailable_reason

log = logging.getLogger("figway.db")
P = ParamSpec("P")
T = TypeVar("T")

Params: TypeAlias = Mapping[str, Any] | Sequence[Mapping[str, Any]]
Step: TypeAlias = Executable | tuple[Executable, Params]
# Both executors answer a Core statement with a CursorResult (buffered on the async side):
# the same API, mappings(), one_or_none(), rowcount and inserted_primary_key.
Plan: TypeAlias = Generator[Step, CursorResult[Any], T]

_RETRIED = "_figway_retry_lock_races"


def retry_lock_races(plan: Callable[P, Plan[T]]) -> Callable[P, Plan[T]]:
    """Mark `plan` as run again, from a fresh transaction, after a lost lock race."""
    setattr(plan, _RETRIED, True)
    return plan


def _retried(plan: Callable[..., Any]) -> bool:
    return bool(getattr(plan, _RETRIED, False))


def _split(step: Step) -> tuple[Executable, Params | None]:
    if isinstance(step, tuple):
        return step[0], step[1]
    return step, None


def run(
    session: Session | Connection, plan: Callable[P, Plan[T]], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run `plan(*args, **kwargs)` on a sync Session or Connection (the legacy side)."""
    attempt = 1
    while True:
        try:
            return _drive(session, plan(*args, **kwargs))
        except DBAPIError as exc:
            if not _retried(plan) or attempt >= LOCK_RACE_ATTEMPTS or not is_lock_race(exc):
                raise
            log.info("%s: retrying (%s)", plan.__name__, unavailable_reason(exc))
        session.rollback()
        attempt += 1


def _drive(session: Session | Connection, steps: Plan[T]) -> T:
    try:
        step = next(steps)
        while True:
            statement, params = _split(step)
            try:
                # Session.execute is typed as Result; a Core statement's is a CursorResult.
                result = cast(CursorResult[Any], session.execute(statement, params))
            except DBAPIError as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(result)
    except StopIteration as done:
        value: T = done.value
        return value


async def arun(
    connection: AsyncConnection, plan: Callable[P, Plan[T]], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run `plan(*args, **kwargs)` on an AsyncConnection (a twin): each statement awaited,
    nothing of the plan's own running on a thread or through a greenlet bridge."""
    attempt = 1
    while True:
        try:
            return await _adrive(connection, plan(*args, **kwargs))
        except DBAPIError as exc:
            if not _retried(plan) or attempt >= LOCK_RACE_ATTEMPTS or not is_lock_race(exc):
                raise
            log.info("%s: retrying (%s)", plan.__name__, unavailable_reason(exc))
        await connection.rollback()
        attempt += 1


async def _adrive(connection: AsyncConnection, steps: Plan[T]) -> T:
    begun = False
    try:
        step = next(steps)
        while True:
            statement, params = _split(step)
            if not begun and _needs_transaction(statement):
                await _begin(connection)
                begun = True
            try:
                result = await connection.execute(statement, params)
            except DBAPIError as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(result)
    except StopIteration as done:
        value: T = done.value
        return value


def _needs_transaction(statement: Executable) -> bool:
    """A write, or a read that locks (FOR UPDATE): from there on, the plan's statements
    are one transaction. The plain reads before it (the checks of a write that may refuse)
    run as they would have, each on the latest committed rows, and a plan that only reads
    (an update that changes nothing) costs no BEGIN and no COMMIT."""
    if getattr(statement, "is_dml", False):
        return True
    if getattr(statement, "is_select", False):
        # Select keeps its FOR UPDATE clause there; no public accessor exists.
        return getattr(statement, "_for_update_arg", None) is not None
    return True  # text, DDL, anything else: in a transaction, to be safe


async def _begin(connection: AsyncConnection) -> None:
    """Open the plan's transaction: the twins' connections are in autocommit (reads open
    none, shared.db.dialects), a write needs one. Inside a transaction already (a plan
    after another, before the handler's commit), carry on in it: a BEGIN there would
    commit what came before."""
    raw = await connection.get_raw_connection()
    if in_transaction(raw.driver_connection) is False:
        await connection.exec_driver_sql("BEGIN")
