"""Health and version: the twins of legacy_flask/blueprints/health.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from fastapi_app.deps import SessionDep, require
from shared.services import health

router = APIRouter(tags=["health"])


@router.get("/api/health", dependencies=[Depends(require("public"))])
async def health_check(session: SessionDep) -> dict[str, Any]:
    return await session.run_sync(health.health_json)


@router.get("/api/health/database", dependencies=[Depends(require("manager"))])
async def database(session: SessionDep) -> dict[str, Any]:
    return await session.run_sync(health.database_json)


@router.get("/api/version", dependencies=[Depends(require("public"))])
async def version() -> dict[str, Any]:
    return health.version_json()
