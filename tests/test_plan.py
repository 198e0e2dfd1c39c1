"""Plans (shared/db/plan.py): one generator of statements, the same answer from Flask's
sync Session and the twin's AsyncConnection, database errors handed to the plan where they
happened, and lock races run again only where the plan says so (a real InnoDB deadlock)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, create_engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db.base import Base
from shared.db.dialects import in_transaction
from shared.db.engine import async_url, sync_url
from shared.db.engine import create_async_engine as twin_async_engine
from shared.db.models import Setting
from shared.db.plan import Plan, arun, retry_lock_races, run
from shared.errors import Conflict
from tests.mariadb_sites import scratch_mariadb

SETTINGS = cast(Table, Setting.__table__)


def add(key: str, value: int) -> Plan[dict[str, Any]]:
    """Insert, then read back: the second step uses the first's result."""
    try:
        yield insert(SETTINGS).values(key=key, value=value)
    except IntegrityError as exc:
        raise Conflict(f"{key} exists") from exc
    row = (yield select(SETTINGS.c.key, SETTINGS.c.value).where(SETTINGS.c.key == key)).one()
    return {"key": row.key, "value": row.value}


def add_unguarded(key: str) -> Plan[None]:
    yield insert(SETTINGS).values(key=key, value=1)


def both_sides(url: str, plan: Any, *args: Any) -> tuple[Any, Any]:
    """`plan` on a sync Session, then on an AsyncConnection, each in its own transaction
    (committed), answers or the exceptions raised."""
    engine = create_engine(sync_url(url))
    answers: list[Any] = []
    with Session(engine) as session:
        try:
            answers.append(run(session, plan, *args))
            session.commit()
        except Exception as exc:
            answers.append(exc)
    engine.dispose()

    async def on_async() -> Any:
        aengine = create_async_engine(async_url(url))
        try:
            async with aengine.connect() as connection:
                try:
                    answer = await arun(connection, plan, *args)
                    await connection.commit()
                    return answer
                except Exception as exc:
                    return exc
        finally:
            await aengine.dispose()

    answers.append(asyncio.run(on_async()))
    return answers[0], answers[1]


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    engine = create_engine(sync_url(url))
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


def test_each_side_runs_the_steps_in_order_and_sends_back_each_result(database):
    first, second = both_sides(database, add, "a", 1)
    assert first == {"key": "a", "value": 1}
    # The async side ran after the sync one committed: its insert conflicts, in the plan.
    assert isinstance(second, Conflict)
    assert str(second) == "a exists"
    assert isinstance(second.__cause__, IntegrityError)


def test_a_database_error_the_plan_does_not_catch_reaches_the_caller(database):
    first, second = both_sides(database, add_unguarded, "b")
    assert first is None
    assert isinstance(second, IntegrityError)


def test_a_plan_with_no_statement_returns_at_once(database):
    def nothing() -> Plan[int]:
        return 7
        yield  # a generator all the same

    assert both_sides(database, nothing) == (7, 7)


# --- lock races on a real InnoDB deadlock --------------------------------------------


def _bump_both(runs: Counter[str]) -> Any:
    def bump(first: str, second: str) -> Plan[int]:
        """Lock `first`, then `second`: two of these in opposite orders deadlock. On its
        first run each holds its first row a moment (MariaDB's SLEEP), so that both do
        before either asks for the other's."""
        runs[first] += 1
        for key in (first, second):
            yield update(SETTINGS).where(SETTINGS.c.key == key).values(description=first)
            if key == first and runs[first] == 1:
                yield select(func.sleep(0.5))
        return runs[first]

    return bump


async def _deadlock(engine: AsyncEngine, plan: Any) -> list[Any]:
    """`plan` as two concurrent transactions in opposite orders: answers or exceptions."""

    async def transaction(first: str, second: str) -> Any:
        async with engine.connect() as connection:
            try:
                answer = await arun(connection, plan, first, second)
                await connection.commit()
                return answer
            except Exception as exc:
                return exc

    return list(await asyncio.gather(transaction("a", "b"), transaction("b", "a")))


def _arranged(url: str) -> None:
    engine = create_engine(sync_url(url))
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.execute(insert(SETTINGS), [{"key": "a", "value": 0}, {"key": "b", "value": 0}])
        session.commit()
    engine.dispose()


def _written(url: str) -> dict[str, str]:
    engine = create_engine(sync_url(url))
    with engine.connect() as connection:
        rows = connection.execute(select(SETTINGS.c.key, SETTINGS.c.description)).all()
    engine.dispose()
    return {key: description for key, description in rows}


def _deadlocked(url: str, plan: Any) -> list[Any]:
    """`plan` as the two deadlocking transactions, on the twins' driver, on `url`."""
    _arranged(url)

    async def go() -> list[Any]:
        engine = create_async_engine(async_url(url))
        try:
            return await _deadlock(engine, plan)
        finally:
            await engine.dispose()

    return asyncio.run(go())


@pytest.mark.mariadb
def test_the_twin_runs_a_marked_plan_again_after_a_deadlock_and_both_writes_land():
    runs: Counter[str] = Counter()
    plan = retry_lock_races(_bump_both(runs))
    with scratch_mariadb() as url:
        answers = _deadlocked(url, plan)
        written = _written(url)
    assert sorted(answers) == [1, 2]  # InnoDB undid one, which ran again from the start
    # The victim ran last, over both rows: nothing half-written by its first run survives.
    assert written in ({"a": "a", "b": "a"}, {"a": "b", "b": "b"})


@pytest.mark.mariadb
def test_an_unmarked_plan_is_not_run_again():
    runs: Counter[str] = Counter()
    plan = _bump_both(runs)
    with scratch_mariadb() as url:
        answers = _deadlocked(url, plan)
    failed = [a for a in answers if isinstance(a, Exception)]
    assert len(failed) == 1 and isinstance(failed[0], OperationalError)
    assert "1213" in str(failed[0])  # the deadlock, handed on unchanged
    assert sum(runs.values()) == 2


# --- the twins' engine: autocommit reads, a transaction per write ---------------------


def _twin_engine(url: str) -> AsyncEngine:
    return twin_async_engine(Settings(database_url=url, secret_key="plan-tests-0123456789"))


def _keys(url: str) -> set[str]:
    return set(_written(url))


def fails_after(key: str) -> Plan[None]:
    yield insert(SETTINGS).values(key=key, value=1)
    raise Conflict("changed its mind")


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def twin_database(request, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'twin.db'}"
        _arranged(url)
        yield url
        return
    with scratch_mariadb() as url:
        _arranged(url)
        yield url


def test_a_failed_plan_leaves_nothing_once_its_connection_closes(twin_database):
    async def go() -> None:
        engine = _twin_engine(twin_database)
        try:
            async with engine.connect() as connection:
                await arun(connection, add, "kept-out", 1)  # no commit: the handler failed
                with pytest.raises(Conflict):
                    await arun(connection, fails_after, "also-out")
        finally:
            await engine.dispose()

    asyncio.run(go())
    assert _keys(twin_database) == {"a", "b"}


def test_plans_in_one_request_share_its_transaction_until_the_commit(twin_database):
    async def go() -> tuple[bool | None, bool | None]:
        engine = _twin_engine(twin_database)
        try:
            async with engine.connect() as connection:
                raw = await connection.get_raw_connection()
                await connection.execute(select(SETTINGS.c.key))  # a read opens nothing
                before = in_transaction(raw.driver_connection)
                await arun(connection, add, "c", 1)
                await arun(connection, add, "d", 1)  # no BEGIN here: "c" stays uncommitted
                assert _keys(twin_database) == {"a", "b"}  # seen from outside: nothing yet
                await connection.commit()
                return before, in_transaction(raw.driver_connection)
        finally:
            await engine.dispose()

    before, after = asyncio.run(go())
    assert (before, after) == (False, False)
    assert _keys(twin_database) == {"a", "b", "c", "d"}
