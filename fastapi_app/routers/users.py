"""Users: the twins of legacy_flask/blueprints/users.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from fastapi_app.deps import SessionDep, SettingsDep, require
from fastapi_app.docs import answers, json_body
from fastapi_app.http import body, json_data
from fastapi_app.responses import JSONRoute
from fastapi_app.schemas.common import SuccessOut
from fastapi_app.schemas.users import PreferencesOut, UserList, UserOut
from shared.serializers import user_json
from shared.services import auth as auth_service
from shared.services import users as users_service
from shared.services.auth import Caller
from shared.services.users import RoleUpdate, UserCreate

router = APIRouter(tags=["users"], route_class=JSONRoute)
Admin = Annotated[Caller | None, Depends(require("admin"))]
Anyone = Annotated[Caller | None, Depends(require("readonly"))]


@router.get("/api/users", response_model=None, responses=answers(UserList))
async def list_users(_user: Admin, session: SessionDep) -> dict[str, Any]:
    return await session.run_sync(users_service.list_users)


@router.post(
    "/api/users",
    status_code=201,
    response_model=None,
    responses=answers(UserOut, 400, 409, status=201),
    openapi_extra=json_body(UserCreate),
)
async def create_user(
    request: Request, _user: Admin, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    data = await body(request, UserCreate)
    created = await session.run_sync(users_service.create_user, settings, data)
    await session.commit()
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
async def update_preferences(request: Request, user: Anyone, session: SessionDep) -> dict[str, Any]:
    assert user is not None  # require() guarantees it
    data = await json_data(request)
    merged = await session.run_sync(users_service.merge_preferences, user, data)
    await session.commit()
    return merged


@router.put(
    "/api/users/{user_id:int}/role",
    response_model=None,
    responses=answers(UserOut, 400, 404, 409),
    openapi_extra=json_body(RoleUpdate),
)
async def set_role(
    user_id: int, request: Request, _user: Admin, session: SessionDep
) -> dict[str, Any]:
    data = await body(request, RoleUpdate)
    updated = await session.run_sync(users_service.set_role, user_id, data)
    await session.commit()
    return updated


@router.delete(
    "/api/users/{user_id:int}", response_model=None, responses=answers(SuccessOut, 404, 409)
)
async def delete_user(user_id: int, _user: Admin, session: SessionDep) -> dict[str, Any]:
    result = await session.run_sync(users_service.delete_user, user_id)
    await session.commit()
    return result


# A capability of the new side only (not in the manifest: the gateway sends it here).
@router.post(
    "/api/users/{user_id:int}/unlock",
    response_model=None,
    responses=answers(UserOut, 404),
    summary="Unlock a user locked out by failed logins",
)
async def unlock_user(user_id: int, _user: Admin, session: SessionDep) -> dict[str, Any]:
    """Lift the lock failed logins put on the account and reset its failure count."""

    def unlock(sync: Session) -> dict[str, Any]:
        user = users_service.get_user(sync, user_id)
        auth_service.unlock(sync, user)
        return user_json(user)

    unlocked = await session.run_sync(unlock)
    await session.commit()
    return unlocked
