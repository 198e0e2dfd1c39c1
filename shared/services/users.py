"""Users: listing, creation, roles, deletion (never the last admin), preferences."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.auth.passwords import hash_password
from shared.auth.roles import Role
from shared.config import Settings
from shared.db.models import User
from shared.errors import Conflict, ValidationFailed
from shared.serializers import user_json
from shared.services import find, flush_or_conflict
from shared.services.auth import Caller
from shared.validation import Body

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
# Preferences are free-form but bounded: any readonly user can write them.
MAX_PREFERENCES_BYTES = 64 * 1024


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)
    next: str | None = None


class UserCreate(Body):
    username: str = Field(min_length=3, max_length=80, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=8, max_length=1024)
    email: str | None = Field(None, max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Role = "user"


class RoleUpdate(Body):
    role: Role


def get_user(session: Session, user_id: int) -> User:
    return find(session, User, user_id, "User")


def list_users(session: Session) -> dict[str, Any]:
    users = session.scalars(select(User).order_by(User.id)).all()
    return {"users": [user_json(u) for u in users]}


def create_user(session: Session, settings: Settings, data: UserCreate) -> dict[str, Any]:
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise Conflict(f"Username {data.username!r} is already taken")
    if data.email and session.scalar(select(User.id).where(User.email == data.email)) is not None:
        raise Conflict(f"Email {data.email!r} is already in use")
    user = User(
        username=data.username,
        email=data.email,
        role=data.role,
        password_hash=hash_password(data.password, n=settings.password_scrypt_n),
        preferences={},
    )
    session.add(user)
    flush_or_conflict(session, "Username or email is already taken")
    return user_json(user)


def _admin_count(session: Session) -> int:
    # FOR UPDATE (MariaDB; SQLite serializes writers anyway): two admins demoting each
    # other at once must not both see "one admin left besides me".
    admins = session.scalars(select(User.id).where(User.role == "admin").with_for_update())
    return len(admins.all())


def set_role(session: Session, user_id: int, data: RoleUpdate) -> dict[str, Any]:
    user = get_user(session, user_id)
    if user.role == "admin" and data.role != "admin" and _admin_count(session) <= 1:
        raise Conflict("Cannot demote the last admin")
    user.role = data.role
    session.flush()
    return user_json(user)


def delete_user(session: Session, user_id: int) -> dict[str, Any]:
    user = get_user(session, user_id)
    if user.role == "admin" and _admin_count(session) <= 1:
        raise Conflict("Cannot delete the last admin")
    session.delete(user)
    session.flush()
    return {"success": True}


def merge_preferences(session: Session, user: Caller, data: Any) -> dict[str, Any]:
    """Shallow merge: top-level keys given replace the stored ones, others stay."""
    if not isinstance(data, dict):
        raise ValidationFailed("Preferences must be a JSON object")
    current = user.preferences if isinstance(user.preferences, dict) else {}
    merged = {**current, **data}
    if len(json.dumps(merged)) > MAX_PREFERENCES_BYTES:
        raise ValidationFailed(f"Preferences exceed {MAX_PREFERENCES_BYTES} bytes of JSON")
    # One UPDATE by id: the caller is the request's record of the row, not an ORM object.
    session.execute(update(User).where(User.id == user.id).values(preferences=merged))
    return {"preferences": merged}


def me_json(user: Caller) -> dict[str, Any]:
    return {**user_json(user), "preferences": user.preferences or {}}
