"""The demo app's scenarios: a request, who makes it, the rows it needs, what may differ."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

# Extra rows for one scenario, given the scenario's one clock reading (both sides alike).
Arrange = Callable[[Session, datetime], None]
# Files for a scenario, by path relative to each side's media dir. A callable, called per
# run: the bytes may cost something to make (a sample video is an ffmpeg run).
MediaFiles = Callable[[], dict[str, bytes]]


@dataclass(frozen=True)
class Scenario:
    route: str  # the manifest key, "METHOD PATH"
    name: str
    path: str  # the concrete path requested
    role: str | None = None  # None: anonymous; else a seeded user of that role
    auth: str = "cookie"  # cookie or bearer, when role is set
    json: Any = None
    raw: bytes | None = None  # a body sent as is, as JSON (for malformed input)
    form: dict[str, str] | None = None  # a urlencoded form body (the login page posts one)
    headers: dict[str, str] = field(default_factory=dict)
    arrange: Arrange | None = None  # extra rows, run on both databases alike
    # JSON paths ("user.last_login_at", "items.*.created_at") allowed to differ.
    volatile: tuple[str, ...] = ()
    provider: str = "up"  # the metadata provider: "up" (the fake) or "down" (refused)
    media: MediaFiles | None = None  # files placed in each side's media dir alike
    # A multipart/form-data body, field -> (filename, bytes, content type): an upload. The
    # runner encodes it once, so both sides get the very same bytes.
    files: dict[str, tuple[str, bytes, str]] | None = None
    # Headers compared beyond gateway.compare.COMPARED_HEADERS: "etag" and "last-modified"
    # where both sides stat the very same file (the static ones), not each its own copy.
    compared_headers: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    @property
    def label(self) -> str:
        return f"{self.route} [{self.name}]"


# Seeded users, by role: readonly 1, user 2, manager 3, admin 4 (see runner._seed), named
# parity_<role>, all with this password.
PASSWORD = "parity-password"  # noqa: S105 - test data, for the login scenarios
READONLY, USER, MANAGER, ADMIN = 1, 2, 3, 4
