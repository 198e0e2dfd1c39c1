"""Settings: the twins of legacy_flask/blueprints/settings.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from fastapi_app.deps import SessionDep, require
from fastapi_app.http import body
from shared.auth.roles import has_role
from shared.db.models import User
from shared.services import settings as settings_service
from shared.services.settings import SettingPut, SettingsBulk

router = APIRouter(tags=["settings"])
Admin = Annotated[User | None, Depends(require("admin"))]
Manager = Annotated[User | None, Depends(require("manager"))]


@router.get("/api/settings")
async def list_settings(_user: Admin, session: SessionDep) -> dict[str, Any]:
    return await session.run_sync(settings_service.list_settings)


# Declared before /api/settings/{key}: PUT here never sets a key "bulk", as in Flask.
@router.put("/api/settings/bulk")
async def bulk_update(request: Request, _user: Admin, session: SessionDep) -> dict[str, Any]:
    data = await body(request, SettingsBulk)
    result = await session.run_sync(settings_service.bulk_update, data)
    await session.commit()
    return result


@router.get("/api/settings/{key}")
async def get_setting(key: str, user: Manager, session: SessionDep) -> dict[str, Any]:
    assert user is not None  # require() guarantees it
    reveal = has_role(user.role, "admin")
    return await session.run_sync(
        lambda s: settings_service.get_setting(s, key, reveal_secrets=reveal)
    )


@router.put("/api/settings/{key}")
async def put_setting(
    key: str, request: Request, _user: Admin, session: SessionDep
) -> JSONResponse:
    settings_service.check_key(key)
    data = await body(request, SettingPut)
    setting, created = await session.run_sync(settings_service.put_setting, key, data)
    await session.commit()
    return JSONResponse(setting, status_code=201 if created else 200)


@router.delete("/api/settings/{key}")
async def delete_setting(key: str, _user: Admin, session: SessionDep) -> dict[str, Any]:
    result = await session.run_sync(settings_service.delete_setting, key)
    await session.commit()
    return result
