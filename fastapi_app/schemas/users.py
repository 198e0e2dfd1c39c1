"""Users, sessions and tokens (shared.serializers.user_json and friends)."""

from __future__ import annotations

from typing import Any

from fastapi_app.schemas.common import Out


class UserOut(Out):
    id: int
    username: str
    email: str | None
    role: str
    created_at: str | None
    last_login_at: str | None


class MeOut(UserOut):
    preferences: dict[str, Any]


class UserList(Out):
    users: list[UserOut]


class PreferencesOut(Out):
    preferences: dict[str, Any]


class CheckOut(Out):
    authenticated: bool
    user: UserOut | None


class LoginOut(Out):
    success: bool
    user: UserOut


class TokenOut(Out):
    access_token: str
    token_type: str
    expires_in: int
