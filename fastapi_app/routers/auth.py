"""Session check and the current user: the twins of legacy_flask/blueprints/auth.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from fastapi_app.deps import require
from shared.db.models import User
from shared.serializers import user_json

router = APIRouter(tags=["auth"])


@router.get("/auth/check")
async def check(user: Annotated[User | None, Depends(require("public"))]) -> dict[str, Any]:
    return {
        "authenticated": user is not None,
        "user": user_json(user) if user is not None else None,
    }
