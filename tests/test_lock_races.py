"""A plan marked retry_lock_races, run by the legacy side on its sync Session, on a real
InnoDB deadlock: the victim runs again and succeeds (tests/test_plan.py: the twins' side)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from shared.db.base import Base
from shared.db.engine import sync_url
from shared.db.models import Setting
from shared.db.plan import Plan, retry_lock_races, run
from tests.mariadb_sites import scratch_mariadb

pytestmark = pytest.mark.mariadb


def test_the_victim_of_a_deadlock_runs_again_and_both_writes_land():
    with scratch_mariadb() as url:
        engine = create_engine(sync_url(url))
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            session.add_all([Setting(key="a", value=0), Setting(key="b", value=0)])
            session.commit()
        both_hold_one = threading.Barrier(2)
        runs: Counter[str] = Counter()

        @retry_lock_races
        def bump_both(first: str, second: str) -> Plan[int]:
            """Lock `first`, then `second`: run in opposite orders, a deadlock."""
            runs[first] += 1
            for key in (first, second):
                yield update(Setting).where(Setting.key == key).values(description=first)
                if key == first and runs[first] == 1:
                    both_hold_one.wait(timeout=10)
            return runs[first]

        def transaction(first: str, second: str) -> int:
            with Session(engine) as session:
                attempts = run(session, bump_both, first, second)
                session.commit()
                return attempts

        with ThreadPoolExecutor(2) as pool:
            attempts = sorted(pool.map(transaction, ["a", "b"], ["b", "a"]))
        with Session(engine) as session:
            written = {s.key: s.description for s in session.query(Setting)}
        engine.dispose()
    assert attempts == [1, 2]  # InnoDB undid one, which ran again
    # The victim ran last, over both rows: nothing half-written by its first run survives.
    assert written in ({"a": "a", "b": "a"}, {"a": "b", "b": "b"})
