"""The clock seam: every timestamp the app writes comes from here."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    # Whole seconds: MariaDB DATETIME keeps no fraction, and both databases must agree.
    return datetime.now(UTC).replace(microsecond=0)


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, the contract's time format."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
