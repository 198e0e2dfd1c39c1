"""Route logic written once, executed natively by each side.

Each resource's module holds its SQLAlchemy Core statements, the functions that turn
their rows into the JSON it answers with, and plans for its writes (shared/db/plan.py).
Flask executes them on its sync Session; the twins await them on an AsyncConnection
(fastapi_app/deps.py tells how). Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

from shared.db.base import MAX_ID


def valid_id(row_id: int) -> bool:
    return 1 <= row_id <= MAX_ID
