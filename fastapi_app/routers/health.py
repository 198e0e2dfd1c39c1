"""Health and version: the twins of legacy_flask/blueprints/health.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from fastapi_app.deps import SessionDep, require
from fastapi_app.docs import answers
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.health import DatabaseOut, HealthOut, VersionOut
from shared.services import health

router = APIRouter(tags=["health"], route_class=JSONRoute)


@router.get(
    "/api/health",
    dependencies=[Depends(require("public"))],
    response_model=None,
    responses=answers(HealthOut, 503),
)
async def health_check(session: SessionDep) -> dict[str, Any]:
    return await session.run_sync(health.health_json)


@router.get(
    "/api/health/database",
    dependencies=[Depends(require("manager"))],
    response_model=None,
    responses=answers(DatabaseOut, 503),
)
async def database(session: SessionDep) -> dict[str, Any]:
    return await session.run_sync(health.database_json)


@router.get(
    "/api/version",
    dependencies=[Depends(require("public"))],
    response_model=None,
    responses=answers(VersionOut),
)
async def version() -> dict[str, Any]:
    return health.version_json()
