"""What both sides' Jinja environments add to the shared templates: the filters, and the
`viewer` every page shows in its header. Pure: each side registers FILTERS in its one place
(Flask's app, fastapi_app.pages.templates) and passes `viewer(caller)` to each render."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from shared.auth.roles import has_role
from shared.services.auth import Caller


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def duration(seconds: int | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def web_url(value: str | None) -> str:
    """The URL if it is http(s), else "": escaping alone does not defuse javascript: links."""
    if not value:
        return ""
    return value if urlsplit(value).scheme.lower() in ("http", "https") else ""


FILTERS: dict[str, Callable[..., str]] = {
    "when": when,
    "duration": duration,
    "web_url": web_url,
}


def viewer(caller: Caller | None) -> dict[str, Any] | None:
    """Who the header shows as logged in: only a caller the request already resolved, so
    rendering never starts database IO and the 403/404 pages still show who is there."""
    if caller is None:
        return None
    return {
        "username": caller.username,
        "role": caller.role,
        "is_admin": has_role(caller.role, "admin"),
    }
