"""Route logic written once: each function takes a sync Session and returns JSON-ready data.

Flask calls these directly; FastAPI runs the very same functions through
``AsyncSession.run_sync`` on the async driver, so the two sides execute the same SQL.
Services flush but never commit: the caller owns the transaction.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db.base import MAX_ID, Base
from shared.errors import Conflict, NotFound

M = TypeVar("M", bound=Base)


def valid_id(row_id: int) -> bool:
    return 1 <= row_id <= MAX_ID


def find(session: Session, model: type[M], row_id: int, what: str) -> M:
    """The row by primary key, or 404 (ids out of range included: they cannot exist)."""
    row = session.get(model, row_id) if valid_id(row_id) else None
    if row is None:
        raise NotFound(f"{what} not found")
    return row


def flush_or_conflict(session: Session, message: str) -> None:
    """Flush; a unique constraint hit by a concurrent writer becomes a 409, not a 500.

    The pre-checks catch ordinary duplicates; this covers the race between check and
    insert. The whole unit of work is rolled back, so nothing half-written survives.
    """
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(message) from exc
