"""Admin figures and the app's log: the twins of legacy_flask/blueprints/admin.py.

Where Flask blocks its thread on each version command in turn (up to 5 s apiece), the
twin runs them at once on asyncio subprocesses; the reads of /proc, the disk and the log
file go to a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request

from fastapi_app.deps import SettingsDep, require
from fastapi_app.docs import answers
from fastapi_app.http import legacy_args
from fastapi_app.schemas.admin import LogOut, SystemOut
from shared.services import system

router = APIRouter(tags=["admin"], dependencies=[Depends(require("admin"))])


@router.get("/api/admin/system", response_model=None, responses=answers(SystemOut))
async def system_info(settings: SettingsDep) -> dict[str, Any]:
    versions = await system.tool_versions_async(settings)
    return await asyncio.to_thread(system.system_figures, versions, settings)


@router.get("/api/admin/logs", response_model=None, responses=answers(LogOut, 400))
async def logs(request: Request, settings: SettingsDep) -> dict[str, Any]:
    lines = system.log_line_count(legacy_args(request))
    return await asyncio.to_thread(system.log_json, settings, lines)
