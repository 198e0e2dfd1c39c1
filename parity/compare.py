"""What "answers alike" means for a parity scenario: the answers compared as shadow traffic
compares them (gateway/compare.py: status, parsed JSON or a page's normalised DOM, the
headers that matter), and the rows (or whatever state a suite reads) left behind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway import compare
from gateway.compare import COMPARED_HEADERS, ROWS

__all__ = ["COMPARED_HEADERS", "Answer", "first_difference"]


@dataclass(frozen=True)
class Answer(compare.Answer):
    # What the request left behind, by table (or any key a suite's state reader uses);
    # compared like JSON under "rows.<key>".
    rows: Mapping[str, Any] = field(default_factory=dict)


def first_difference(
    flask: Answer, fastapi: Answer, volatile: tuple[str, ...], headers: tuple[str, ...] = ()
) -> str | None:
    """The first way the answers differ, or None. `headers`: compared beyond
    COMPARED_HEADERS (lower case), for a scenario whose sides must agree on them too."""
    for found in compare.differences(flask, fastapi, volatile, headers):
        return found.describe()
    for table in sorted(set(flask.rows) | set(fastapi.rows)):
        a_rows, b_rows = flask.rows.get(table), fastapi.rows.get(table)
        # Rows are compared like JSON, so "rows.users.*.password_hash" can be volatile.
        for found in compare.json_differences(a_rows, b_rows, ROWS, ("rows", table), volatile):
            return f"{found.describe()} (flask {_brief(a_rows)}, fastapi {_brief(b_rows)})"
    return None


def _brief(rows: Any) -> str:
    text = repr(rows)
    return text if len(text) < 200 else text[:197] + "..."
