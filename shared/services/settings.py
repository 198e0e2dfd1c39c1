"""Settings: one JSON value per key; secret values masked unless an admin reads one."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import Setting
from shared.errors import NotFound, ValidationFailed
from shared.serializers import setting_json
from shared.services import flush_or_conflict
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


def _get(session: Session, key: str) -> Setting:
    setting = session.get(Setting, check_key(key))
    if setting is None:
        raise NotFound("Setting not found")
    return setting


def list_settings(session: Session) -> dict[str, Any]:
    rows = session.scalars(select(Setting).order_by(Setting.key)).all()
    return {"settings": [setting_json(s, mask=True) for s in rows]}


def get_setting(session: Session, key: str, *, reveal_secrets: bool) -> dict[str, Any]:
    return setting_json(_get(session, key), mask=not reveal_secrets)


def put_setting(session: Session, key: str, data: SettingPut) -> tuple[dict[str, Any], bool]:
    """Create or replace the value; the flag says whether the key is new (201 vs 200)."""
    setting = session.get(Setting, check_key(key))
    created = setting is None
    if setting is None:
        setting = Setting(key=key)
        session.add(setting)
    setting.value = data.value
    # Partial update: an omitted description keeps the stored one, an explicit null clears it.
    if created or "description" in data.model_fields_set:
        setting.description = data.description
    flush_or_conflict(session, f"Setting {key!r} was created concurrently; retry")
    return setting_json(setting, mask=False), created


def delete_setting(session: Session, key: str) -> dict[str, Any]:
    session.delete(_get(session, key))
    session.flush()
    return {"success": True}


def bulk_update(session: Session, data: SettingsBulk) -> dict[str, Any]:
    """Create or replace many values; every key is checked before anything is written."""
    for key in data.settings:
        check_key(key)
    keys = sorted(data.settings)
    existing = {
        s.key: s for s in session.scalars(select(Setting).where(Setting.key.in_(keys))).all()
    }
    touched = []
    for key in keys:
        setting = existing.get(key)
        if setting is None:
            setting = Setting(key=key, description=None)
            session.add(setting)
        setting.value = data.settings[key]
        touched.append(setting)
    flush_or_conflict(session, "A setting was created concurrently; retry")
    return {
        "success": True,
        "updated": len(touched),
        "settings": [setting_json(s, mask=True) for s in touched],
    }
