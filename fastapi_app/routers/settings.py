"""Settings: the twins of legacy_flask/blueprints/settings.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from fastapi_app.deps import ConnectionDep, require
from fastapi_app.docs import answers, json_body
from fastapi_app.http import body
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.common import SuccessOut
from fastapi_app.schemas.settings import BulkOut, SettingList, SettingOut
from shared.auth.roles import has_role
from shared.db.plan import arun
from shared.services import settings as settings_service
from shared.services.auth import Caller
from shared.services.settings import SettingPut, SettingsBulk

router = APIRouter(tags=["settings"], route_class=JSONRoute)
Admin = Annotated[Caller | None, Depends(require("admin"))]
Manager = Annotated[Caller | None, Depends(require("manager"))]


@router.get("/api/settings", response_model=None, responses=answers(SettingList))
async def list_settings(_user: Admin, db: ConnectionDep) -> dict[str, Any]:
    result = await db.execute(settings_service.LIST_STMT)
    return settings_service.list_json(result.mappings().all())


# Declared before /api/settings/{key}: PUT here never sets a key "bulk", as in Flask.
@router.put(
    "/api/settings/bulk",
    response_model=None,
    responses=answers(BulkOut, 400, 409),
    openapi_extra=json_body(SettingsBulk),
)
async def bulk_update(request: Request, _user: Admin, db: ConnectionDep) -> dict[str, Any]:
    data = await body(request, SettingsBulk)
    result = await arun(db, settings_service.bulk_update, data)
    await db.commit()
    return result


@router.get("/api/settings/{key}", response_model=None, responses=answers(SettingOut, 400, 404))
async def get_setting(key: str, user: Manager, db: ConnectionDep) -> dict[str, Any]:
    assert user is not None  # require() guarantees it
    reveal = has_role(user.role, "admin")
    params = settings_service.key_params(key)
    result = await db.execute(settings_service.SETTING_STMT, params)
    return settings_service.one_setting_json(result.mappings().one_or_none(), reveal_secrets=reveal)


@router.put(
    "/api/settings/{key}",
    response_model=None,
    # 200 replaces a key, 201 creates it: both answer the setting.
    responses={**answers(SettingOut, 400, 409), **answers(SettingOut, status=201)},
    openapi_extra=json_body(SettingPut),
)
async def put_setting(key: str, request: Request, _user: Admin, db: ConnectionDep) -> JSONResponse:
    settings_service.check_key(key)
    data = await body(request, SettingPut)
    setting, created = await arun(db, settings_service.put_setting, key, data)
    await db.commit()
    return JSONResponse(setting, status_code=201 if created else 200)


@router.delete("/api/settings/{key}", response_model=None, responses=answers(SuccessOut, 400, 404))
async def delete_setting(key: str, _user: Admin, db: ConnectionDep) -> dict[str, Any]:
    result = await arun(db, settings_service.delete_setting, key)
    await db.commit()
    return result
