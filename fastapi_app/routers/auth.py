"""Session check and the current user: the twins of legacy_flask/blueprints/auth.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from fastapi_app.deps import OptionalUser, SessionDep, SettingsDep, require
from fastapi_app.http import json_data
from shared.auth.tokens import issue_token
from shared.db.models import User
from shared.serializers import user_json
from shared.services import auth as auth_service
from shared.services.users import LoginBody, me_json
from shared.validation import parse_body

router = APIRouter(tags=["auth"])


@router.get("/auth/check", dependencies=[Depends(require("public"))])
async def check(user: OptionalUser) -> dict[str, Any]:
    return {
        "authenticated": user is not None,
        "user": user_json(user) if user is not None else None,
    }


@router.get("/api/auth/me")
async def me(user: Annotated[User | None, Depends(require("readonly"))]) -> dict[str, Any]:
    assert user is not None  # require() guarantees it
    return me_json(user)


@router.post("/api/auth/token", dependencies=[Depends(require("public"))])
async def token(request: Request, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    creds = parse_body(LoginBody, await json_data(request))
    user, error = await session.run_sync(
        auth_service.attempt_login, settings, creds.username, creds.password
    )
    await session.commit()  # the failure counts toward the lockout, on both sides alike
    if error is not None or user is None:
        assert error is not None
        raise error
    return issue_token(settings, user.id, user.role)
