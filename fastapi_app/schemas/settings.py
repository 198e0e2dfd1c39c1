"""Settings (shared.serializers.setting_row_json); values are any JSON."""

from __future__ import annotations

from typing import Any

from fastapi_app.schemas.common import Out


class SettingOut(Out):
    key: str
    value: Any
    description: str | None


class SettingList(Out):
    settings: list[SettingOut]


class BulkOut(Out):
    success: bool
    updated: int
    settings: list[SettingOut]
