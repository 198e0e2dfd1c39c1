"""The catalogue: scenarios per migrated route. Fields that may differ are declared here,
per scenario, and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from shared.db.models import UserSession

# Extra rows for one scenario, given the scenario's one clock reading (both sides alike).
Arrange = Callable[[Session, datetime], None]


@dataclass(frozen=True)
class Scenario:
    route: str  # the manifest key, "METHOD PATH"
    name: str
    path: str  # the concrete path requested
    role: str | None = None  # None: anonymous; else a seeded user of that role
    auth: str = "cookie"  # cookie or bearer, when role is set
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    arrange: Arrange | None = None  # extra rows, run on both databases alike
    # JSON paths ("user.last_login_at", "items.*.created_at") allowed to differ.
    volatile: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    @property
    def label(self) -> str:
        return f"{self.route} [{self.name}]"


def _revoke_sessions(session: Session, now: datetime) -> None:
    session.query(UserSession).update({"revoked_at": now})


CATALOGUE: tuple[Scenario, ...] = (
    Scenario("GET /api/version", "anonymous", "/api/version"),
    Scenario("GET /api/version", "logged in", "/api/version", role="user"),
    Scenario("GET /api/health", "anonymous", "/api/health"),
    Scenario("GET /api/health", "admin with a token", "/api/health", role="admin", auth="bearer"),
    Scenario("GET /auth/check", "anonymous", "/auth/check"),
    Scenario("GET /auth/check", "cookie", "/auth/check", role="readonly"),
    Scenario("GET /auth/check", "bearer token", "/auth/check", role="manager", auth="bearer"),
    Scenario(
        "GET /auth/check", "revoked session", "/auth/check", role="user", arrange=_revoke_sessions
    ),
    Scenario(
        "GET /auth/check",
        "garbage cookie",
        "/auth/check",
        headers={"Cookie": "session=not-a-signed-cookie"},
    ),
)


def scenarios_for(routes: set[str] | None = None) -> list[Scenario]:
    return [s for s in CATALOGUE if routes is None or s.route in routes]
