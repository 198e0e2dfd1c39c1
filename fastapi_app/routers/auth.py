"""Session check and the current user: the twins of legacy_flask/blueprints/auth.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from fastapi_app.deps import OptionalUser, require
from shared.serializers import user_json

router = APIRouter(tags=["auth"])


@router.get("/auth/check", dependencies=[Depends(require("public"))])
async def check(user: OptionalUser) -> dict[str, Any]:
    return {
        "authenticated": user is not None,
        "user": user_json(user) if user is not None else None,
    }
