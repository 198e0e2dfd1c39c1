"""Users: listing, creation, roles, deletion (never the last admin), preferences.

Reads are Core statements and functions of their rows; writes are plans
(shared/db/plan.py), run by the legacy side on its Session and awaited by the twins on
their connection. A new user's password is hashed before the plan (scrypt is CPU work:
the twin runs it on a thread), and the plan stores the hash.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from pydantic import Field
from sqlalchemy import Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from shared.auth.passwords import hash_password
from shared.auth.roles import Role
from shared.config import Settings
from shared.db.models import User
from shared.db.plan import Plan
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.serializers import Row, user_json
from shared.services import valid_id
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


# --- statements ----------------------------------------------------------------------

USERS = cast(Table, User.__table__)
# What user_json shows: never the password hash, which stays in the database.
_USER_COLUMNS = [
    USERS.c[name] for name in ("id", "username", "email", "role", "created_at", "last_login_at")
]
# Bound at execution: one statement object (and one compiled form) for every request.
USERS_STMT = select(*_USER_COLUMNS).order_by(USERS.c.id)
USER_STMT = select(*_USER_COLUMNS).where(USERS.c.id == bindparam("user_id"))
_TAKEN_STMT = select(
    select(USERS.c.id).where(USERS.c.username == bindparam("username")).exists().label("username"),
    select(USERS.c.id).where(USERS.c.email == bindparam("email")).exists().label("email"),
)
# FOR UPDATE (MariaDB; SQLite serializes writers anyway): two admins demoting each other at
# once must not both see "one admin left besides me".
_ADMINS_STMT = select(USERS.c.id).where(USERS.c.role == "admin").with_for_update()


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as user_json shows them, from a row of USER_STMT or USERS_STMT."""

    id: int
    username: str
    email: str | None
    role: str
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, row: Row) -> UserRecord:
        return cls(
            id=row["id"],
            username=row["username"],
            email=row["email"],
            role=row["role"],
            created_at=row["created_at"],
            last_login_at=row["last_login_at"],
        )


def user_params(user_id: int) -> dict[str, int]:
    """USER_STMT's parameters; an id out of range cannot exist (and must not reach the
    driver: past 64 bits it is an OverflowError)."""
    if not valid_id(user_id):
        raise NotFound("User not found")
    return {"user_id": user_id}


# --- reads ---------------------------------------------------------------------------


def list_json(rows: Sequence[Row]) -> dict[str, Any]:
    return {"users": [user_json(UserRecord.of(row)) for row in rows]}


def _user(user_id: int) -> Plan[UserRecord]:
    row = (yield USER_STMT, user_params(user_id)).mappings().one_or_none()
    if row is None:
        raise NotFound("User not found")
    return UserRecord.of(row)


# --- writes --------------------------------------------------------------------------


def password_hash(settings: Settings, data: UserCreate) -> str:
    """The new user's password hash: CPU-bound scrypt, done before the plan that stores it
    (the twin runs it on a worker thread, off its event loop)."""
    return hash_password(data.password, n=settings.password_scrypt_n)


def create_user(data: UserCreate, password_hash: str) -> Plan[dict[str, Any]]:
    taken = (yield _TAKEN_STMT, {"username": data.username, "email": data.email}).one()
    if taken.username:
        raise Conflict(f"Username {data.username!r} is already taken")
    if data.email and taken.email:
        raise Conflict(f"Email {data.email!r} is already in use")
    try:
        result = yield insert(USERS).values(
            username=data.username,
            email=data.email,
            role=data.role,
            password_hash=password_hash,
            preferences={},
        )
    except IntegrityError as exc:  # a concurrent writer between the checks and here
        raise Conflict("Username or email is already taken") from exc
    user_id: int = result.inserted_primary_key[0]  # type: ignore[index]  # never None after an INSERT
    return user_json((yield from _user(user_id)))


def _admin_count() -> Plan[int]:
    return len((yield _ADMINS_STMT).all())


def set_role(user_id: int, data: RoleUpdate) -> Plan[dict[str, Any]]:
    user = yield from _user(user_id)
    if user.role == "admin" and data.role != "admin" and (yield from _admin_count()) <= 1:
        raise Conflict("Cannot demote the last admin")
    if user.role == data.role:  # unchanged: no UPDATE, as the ORM's flush wrote none
        return user_json(user)
    yield update(USERS).where(USERS.c.id == user_id).values(role=data.role)
    return user_json(dataclasses.replace(user, role=data.role))


def delete_user(user_id: int) -> Plan[dict[str, Any]]:
    """Their sessions (and playlists) go with them, by foreign-key cascade."""
    user = yield from _user(user_id)
    if user.role == "admin" and (yield from _admin_count()) <= 1:
        raise Conflict("Cannot delete the last admin")
    yield delete(USERS).where(USERS.c.id == user_id)
    return {"success": True}


def unlock_user(user_id: int) -> Plan[dict[str, Any]]:
    """Lift the lock failed logins put on the account and forget its failures (an admin's
    remedy; shared.services.auth.unlock is the operator's, on an ORM User)."""
    user = yield from _user(user_id)
    # Only a row that has something to forget is written, as the ORM's flush did.
    yield (
        update(USERS)
        .where(
            USERS.c.id == user_id,
            or_(USERS.c.failed_login_count != 0, USERS.c.locked_until.is_not(None)),
        )
        .values(failed_login_count=0, locked_until=None)
    )
    return user_json(user)


def merge_preferences(user: Caller, data: Any) -> Plan[dict[str, Any]]:
    """Shallow merge: top-level keys given replace the stored ones, others stay."""
    if not isinstance(data, dict):
        raise ValidationFailed("Preferences must be a JSON object")
    current = user.preferences if isinstance(user.preferences, dict) else {}
    merged = {**current, **data}
    if len(json.dumps(merged)) > MAX_PREFERENCES_BYTES:
        raise ValidationFailed(f"Preferences exceed {MAX_PREFERENCES_BYTES} bytes of JSON")
    # One UPDATE by id: the caller is the request's record of the row, not an ORM object.
    yield update(USERS).where(USERS.c.id == user.id).values(preferences=merged)
    return {"preferences": merged}


def me_json(user: Caller) -> dict[str, Any]:
    return {**user_json(user), "preferences": user.preferences or {}}
