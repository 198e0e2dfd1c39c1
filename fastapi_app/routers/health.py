"""Health and version: the twins of legacy_flask/blueprints/health.py."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.exc import SQLAlchemyError

from fastapi_app.deps import ConnectionDep, ModernDep, require
from fastapi_app.docs import answers
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.health import DatabaseOut, HealthOut, VersionOut
from shared.db.engine import end_connection
from shared.errors import Unavailable
from shared.services import health

router = APIRouter(tags=["health"], route_class=JSONRoute)


@router.get(
    "/api/health",
    dependencies=[Depends(require("public"))],
    response_model=None,
    responses=answers(HealthOut, 503),
)
async def health_check(state: ModernDep) -> dict[str, Any]:
    # Not ConnectionDep: its checkout fails before the handler runs, and this route must
    # answer its own body when the database is away. Checking out is part of the check,
    # as on the legacy side, whose session checks out at PING.
    try:
        connection = await state.engine.connect()
        try:
            await connection.execute(health.PING)
        finally:
            await end_connection(connection)
    except SQLAlchemyError as exc:
        raise health.unreachable(exc, health.DatabaseDown()) from exc
    return health.healthy_json()


@router.get(
    "/api/health/database",
    dependencies=[Depends(require("manager"))],
    response_model=None,
    responses=answers(DatabaseOut, 503),
)
async def database(db: ConnectionDep) -> dict[str, Any]:
    # The connection the caller was found on (a dead database is a 503 there already).
    started = time.perf_counter()
    try:
        await db.execute(health.PING)
    except SQLAlchemyError as exc:
        raise health.unreachable(exc, Unavailable(health.DATABASE_DOWN)) from exc
    latency_ms = health.since_ms(started)
    return health.database_report(db.dialect.name, latency_ms, db.engine.pool)


@router.get(
    "/api/version",
    dependencies=[Depends(require("public"))],
    response_model=None,
    responses=answers(VersionOut),
)
async def version() -> dict[str, Any]:
    return health.version_json()
