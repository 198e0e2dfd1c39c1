"""Users: the twins of legacy_flask/blueprints/users.py."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from fastapi_app.deps import ConnectionDep, SettingsDep, require
from fastapi_app.docs import answers, json_body
from fastapi_app.http import body, json_data
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.common import SuccessOut
from fastapi_app.schemas.users import PreferencesOut, UserList, UserOut
from shared.db.plan import arun
from shared.services import users as users_service
from shared.services.auth import Caller
from shared.services.users import RoleUpdate, UserCreate

router = APIRouter(tags=["users"], route_class=JSONRoute)
Admin = Annotated[Caller | None, Depends(require("admin"))]
Anyone = Annotated[Caller | None, Depends(require("readonly"))]


@router.get("/api/users", response_model=None, responses=answers(UserList))
async def list_users(_user: Admin, db: ConnectionDep) -> dict[str, Any]:
    rows = (await db.execute(users_service.USERS_STMT)).mappings().all()
    return users_service.list_json(rows)


@router.post(
    "/api/users",
    status_code=201,
    response_model=None,
    responses=answers(UserOut, 400, 409, status=201),
    openapi_extra=json_body(UserCreate),
)
async def create_user(
    request: Request, _user: Admin, db: ConnectionDep, settings: SettingsDep
) -> JSONResponse:
    data = await body(request, UserCreate)
    # scrypt is CPU-bound (tens of milliseconds at the configured cost): on a worker thread,
    # off the event loop, and before the plan, which only stores the hash.
    password_hash = await anyio.to_thread.run_sync(users_service.password_hash, settings, data)
    created = await arun(db, users_service.create_user, data, password_hash)
    await db.commit()
    return JSONResponse(created, status_code=201)


# Declared before /api/users/{user_id:int}/...; "me" is no int anyway, as in Flask.
@router.put(
    "/api/users/me/preferences",
    response_model=None,
    responses=answers(PreferencesOut, 400, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def update_preferences(request: Request, user: Anyone, db: ConnectionDep) -> dict[str, Any]:
    assert user is not None  # require() guarantees it
    data = await json_data(request)
    merged = await arun(db, users_service.merge_preferences, user, data)
    await db.commit()
    return merged


@router.put(
    "/api/users/{user_id:int}/role",
    response_model=None,
    responses=answers(UserOut, 400, 404, 409),
    openapi_extra=json_body(RoleUpdate),
)
async def set_role(
    user_id: int, request: Request, _user: Admin, db: ConnectionDep
) -> dict[str, Any]:
    data = await body(request, RoleUpdate)
    updated = await arun(db, users_service.set_role, user_id, data)
    await db.commit()
    return updated


@router.delete(
    "/api/users/{user_id:int}", response_model=None, responses=answers(SuccessOut, 404, 409)
)
async def delete_user(user_id: int, _user: Admin, db: ConnectionDep) -> dict[str, Any]:
    result = await arun(db, users_service.delete_user, user_id)
    await db.commit()
    return result


# A capability of the new side only (not in the manifest: the gateway sends it here).
@router.post(
    "/api/users/{user_id:int}/unlock",
    response_model=None,
    responses=answers(UserOut, 404),
    summary="Unlock a user locked out by failed logins",
)
async def unlock_user(user_id: int, _user: Admin, db: ConnectionDep) -> dict[str, Any]:
    """Lift the lock failed logins put on the account and reset its failure count."""
    unlocked = await arun(db, users_service.unlock_user, user_id)
    await db.commit()
    return unlocked
