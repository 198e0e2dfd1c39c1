"""Health and version (shared.services.health)."""

from __future__ import annotations

from fastapi_app.schemas.common import Out


class HealthOut(Out):
    status: str
    database: str
    version: str


class VersionOut(Out):
    version: str
    api: str
    python: str


class PoolOut(Out):
    size: int | None
    checked_out: int | None
    overflow: int | None
    checked_in: int | None


class DatabaseOut(Out):
    status: str
    dialect: str
    latency_ms: float
    pool: PoolOut
