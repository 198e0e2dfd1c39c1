"""Admin figures and the app's log: the twins of legacy_flask/blueprints/admin.py.

Where Flask blocks its thread on each version command in turn (up to 5 s apiece), the
twin runs them at once on asyncio subprocesses; the reads of /proc, the disk and the log
file go to a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from fastapi_app.deps import SettingsDep, require
from fastapi_app.docs import answers
from fastapi_app.query import ASCII_DIGITS
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.admin import LogOut, SystemOut
from shared.services import system

router = APIRouter(tags=["admin"], route_class=JSONRoute, dependencies=[Depends(require("admin"))])


@router.get("/api/admin/system", response_model=None, responses=answers(SystemOut))
async def system_info(settings: SettingsDep) -> dict[str, Any]:
    versions = await system.tool_versions_async(settings)
    return await asyncio.to_thread(system.system_figures, versions, settings)


async def no_file_path(request: Request) -> None:
    """Refused before `lines` is read, as shared.services.system.log_line_count does.
    async although pure: a sync dependency would run on a worker thread."""
    system.refuse_file_params(request.query_params)


@router.get(
    "/api/admin/logs",
    dependencies=[Depends(no_file_path)],
    response_model=None,
    responses=answers(LogOut, 400),
)
async def logs(
    settings: SettingsDep,
    lines: Annotated[
        int, Query(ge=1, le=system.MAX_LOG_LINES), ASCII_DIGITS
    ] = system.DEFAULT_LOG_LINES,
) -> dict[str, Any]:
    return await asyncio.to_thread(system.log_json, settings, lines)
