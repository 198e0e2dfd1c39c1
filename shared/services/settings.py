"""Settings: one JSON value per key; secret values masked unless an admin reads one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, cast

from pydantic import Field, StringConstraints
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.db.models import Setting
from shared.db.plan import Plan
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.serializers import Row, setting_row_json
from shared.validation import Body

# fullmatch, not ^...$: "$" would let a trailing newline ("%0A" in a URL) through.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,128}")
MAX_BULK_KEYS = 500
MAX_DESCRIPTION_LENGTH = 2000


class SettingPut(Body):
    value: Any  # any JSON, null included, but the key must be present
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_LENGTH)


# Keys are checked as sent: Body strips strings, which would quietly turn "a\n" into "a".
RawKey = Annotated[str, StringConstraints(strip_whitespace=False)]


class SettingsBulk(Body):
    settings: dict[RawKey, Any] = Field(min_length=1, max_length=MAX_BULK_KEYS)


def check_key(key: str) -> str:
    if KEY_PATTERN.fullmatch(key) is None:
        raise ValidationFailed(
            f"Invalid setting key {key[:130]!r}: use 1-128 letters, digits, '_', '.' or '-'"
        )
    return key


# --- statements (both sides execute them; see fastapi_app/deps.py) -------------------

SETTINGS = cast(Table, Setting.__table__)
_SHOWN = select(SETTINGS.c.key, SETTINGS.c.value, SETTINGS.c.description)
LIST_STMT = _SHOWN.order_by(SETTINGS.c.key)
# Bound at execution ({"key": ...}, from key_params).
SETTING_STMT = _SHOWN.where(SETTINGS.c.key == bindparam("key"))
_SOME_STMT = _SHOWN.where(SETTINGS.c.key.in_(bindparam("keys", expanding=True)))
_DELETE_STMT = delete(SETTINGS).where(SETTINGS.c.key == bindparam("key"))
# Many rows in one executemany, each its own value.
_UPDATE_MANY = (
    update(SETTINGS)
    .where(SETTINGS.c.key == bindparam("b_key"))
    .values(
        value=bindparam("b_value", type_=SETTINGS.c.value.type),
        updated_at=bindparam("b_updated_at", type_=SETTINGS.c.updated_at.type),
    )
)


def key_params(key: str) -> dict[str, str]:
    """SETTING_STMT's parameters: a key of the wrong shape is a 400 before any IO."""
    return {"key": check_key(key)}


# --- answers from rows (both sides) -------------------------------------------------


def list_json(rows: Sequence[Row]) -> dict[str, Any]:
    return {"settings": [setting_row_json(row, mask=True) for row in rows]}


def one_setting_json(row: Row | None, *, reveal_secrets: bool) -> dict[str, Any]:
    if row is None:
        raise NotFound("Setting not found")
    return setting_row_json(row, mask=not reveal_secrets)


# --- reads, executed by the legacy side ----------------------------------------------


def list_settings(session: Session) -> dict[str, Any]:
    return list_json(session.execute(LIST_STMT).mappings().all())


def get_setting(session: Session, key: str, *, reveal_secrets: bool) -> dict[str, Any]:
    row = session.execute(SETTING_STMT, key_params(key)).mappings().one_or_none()
    return one_setting_json(row, reveal_secrets=reveal_secrets)


# --- writes: plans (shared/db/plan.py), run by the legacy side on its Session and awaited
# by the twins on their connection. As the ORM's flush did, a value set to what it was
# (by ==, so 1 and true are the same) writes nothing, updated_at included, and the answer
# is the value sent. --------------------------------------------------------------------


def put_setting(key: str, data: SettingPut) -> Plan[tuple[dict[str, Any], bool]]:
    """Create or replace the value; the flag says whether the key is new (201 vs 200)."""
    params = key_params(key)
    row = (yield SETTING_STMT, params).mappings().one_or_none()
    if row is None:
        values = {"key": key, "value": data.value, "description": data.description}
        try:
            yield insert(SETTINGS), {**values, "updated_at": utcnow()}
        except IntegrityError as exc:
            raise Conflict(f"Setting {key!r} was created concurrently; retry") from exc
        return setting_row_json(values, mask=False), True
    # Partial update: an omitted description keeps the stored one, an explicit null clears it.
    changes = {"value": data.value}
    if "description" in data.model_fields_set:
        changes["description"] = data.description
    changed = {name: value for name, value in changes.items() if row[name] != value}
    if changed:
        yield update(SETTINGS).where(SETTINGS.c.key == key).values(**changed, updated_at=utcnow())
    return setting_row_json({**row, **changes}, mask=False), False


def delete_setting(key: str) -> Plan[dict[str, Any]]:
    result = yield _DELETE_STMT, key_params(key)
    if result.rowcount == 0:
        raise NotFound("Setting not found")
    return {"success": True}


def bulk_update(data: SettingsBulk) -> Plan[dict[str, Any]]:
    """Create or replace many values; every key is checked before anything is written."""
    for key in data.settings:
        check_key(key)
    keys = sorted(data.settings)
    result = yield _SOME_STMT, {"keys": keys}
    existing = {row["key"]: row for row in result.mappings()}
    now = utcnow()
    touched: list[Row] = []
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for key in keys:
        value = data.settings[key]
        stored = existing.get(key)
        if stored is None:
            inserts.append({"key": key, "value": value, "description": None, "updated_at": now})
            touched.append({"key": key, "value": value, "description": None})
            continue
        if stored["value"] != value:
            updates.append({"b_key": key, "b_value": value, "b_updated_at": now})
        touched.append({**stored, "value": value})
    try:
        # Updates first, then inserts, as the ORM's flush ordered them.
        if updates:
            yield _UPDATE_MANY, updates
        if inserts:
            yield insert(SETTINGS), inserts
    except IntegrityError as exc:
        raise Conflict("A setting was created concurrently; retry") from exc
    return {
        "success": True,
        "updated": len(touched),
        "settings": [setting_row_json(row, mask=True) for row in touched],
    }
