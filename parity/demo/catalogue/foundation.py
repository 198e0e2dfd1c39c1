"""Phase 1 foundation: health, version, login and logout, session check, tokens, users,
settings."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from parity.demo.scenario import ADMIN, PASSWORD, USER, Scenario
from shared.db.models import LoginThrottle, Setting, User, UserSession


def _revoke_sessions(session: Session, now: datetime) -> None:
    session.query(UserSession).update({"revoked_at": now})


def _some_settings(session: Session, now: datetime) -> None:
    session.add_all(
        [
            Setting(
                key="site_name", value="Videos", description="Shown in the header", updated_at=now
            ),
            Setting(key="imvdb_api_key", value="s3cret", description=None, updated_at=now),
            Setting(key="page_size", value=25, description=None, updated_at=now),
        ]
    )


def _locked(session: Session, now: datetime) -> None:
    session.query(User).filter(User.role == "user").update(
        {"locked_until": now + timedelta(minutes=10)}
    )


def _four_failures(session: Session, now: datetime) -> None:
    session.query(User).filter(User.role == "user").update({"failed_login_count": 4})


# The address both sides' test clients present (parity.demo.runner.CLIENT_ADDRESS).
CLIENT_ADDRESS = "127.0.0.1"


def _address_spent(session: Session, now: datetime) -> None:
    """The caller's address has used its allowance of failed logins in this window."""
    session.add(LoginThrottle(client=CLIENT_ADDRESS, failures=20, window_started_at=now))


def _address_window_over(session: Session, now: datetime) -> None:
    """The caller's address used its allowance in a window that has ended."""
    started = now - timedelta(minutes=16)
    session.add(LoginThrottle(client=CLIENT_ADDRESS, failures=20, window_started_at=started))


RIGHT = {"username": "parity_user", "password": PASSWORD}
WRONG = {"username": "parity_user", "password": "not-the-password"}
# A login writes its moment (last login, the session row) and a random session token.
LOGGED_IN = (
    "user.last_login_at",
    "rows.users.*.last_login_at",
    "rows.user_sessions.*.token_hash",
    "rows.user_sessions.*.created_at",
    "rows.user_sessions.*.last_seen_at",
    "rows.user_sessions.*.expires_at",
)
REVOKED = ("rows.user_sessions.*.revoked_at",)
# A failed login counts toward its address's throttle, whose window starts at that moment.
FAILED = ("rows.login_throttle.*.window_started_at",)
# Hostile `next` values: a tab browsers drop (so "//evil.example"), a backslash they read
# as "/", an encoded one, control characters that once broke the Location header.
HOSTILE_NEXT = ("/\t/evil.example", "/\\evil.example", "/%5C/evil.example", "javascript:x")

LOGIN: tuple[Scenario, ...] = (
    Scenario(
        "POST /auth/login", "JSON, right password", "/auth/login", json=RIGHT, volatile=LOGGED_IN
    ),
    Scenario(
        "POST /auth/login", "JSON, wrong password", "/auth/login", json=WRONG, volatile=FAILED
    ),
    Scenario(
        "POST /auth/login",
        "JSON, unknown user",
        "/auth/login",
        json={"username": "nobody", "password": "x"},
        volatile=FAILED,
    ),
    Scenario("POST /auth/login", "locked account", "/auth/login", json=RIGHT, arrange=_locked),
    Scenario(
        "POST /auth/login",
        "fifth failure locks",
        "/auth/login",
        json=WRONG,
        arrange=_four_failures,
        volatile=("rows.users.*.locked_until", *FAILED),
    ),
    Scenario(
        "POST /auth/login",
        "right password resets the failures",
        "/auth/login",
        json=RIGHT,
        arrange=_four_failures,
        volatile=LOGGED_IN,
    ),
    Scenario("POST /auth/login", "malformed JSON", "/auth/login", raw=b"{nope"),
    # Past the default 5 MiB upload limit plus framing: 413 before the body is parsed.
    Scenario("POST /auth/login", "body too large", "/auth/login", raw=b" " * (6 * 2**20)),
    Scenario(
        "POST /auth/login", "wrong type", "/auth/login", json={"username": 5, "password": "x"}
    ),
    Scenario("POST /auth/login", "not an object", "/auth/login", json=["parity_user"]),
    Scenario(
        "POST /auth/login",
        "form, to next",
        "/auth/login",
        form={**RIGHT, "next": "/videos?status=wanted"},
        volatile=LOGGED_IN,
    ),
    Scenario(
        "POST /auth/login",
        "form, next in the query",
        "/auth/login?next=/artists",
        form=RIGHT,
        volatile=LOGGED_IN,
    ),
    Scenario(
        "POST /auth/login",
        "form, offsite next",
        "/auth/login",
        form={**RIGHT, "next": "//evil.example/x"},
        volatile=LOGGED_IN,
    ),
    Scenario(
        "POST /auth/login",
        "form, wrong password: 303 back to the form",
        "/auth/login",
        form={**WRONG, "next": "/videos"},
        volatile=FAILED,
    ),
    Scenario(
        "POST /auth/login",
        "form, no password: 303 back to the form",
        "/auth/login",
        form={"username": "parity_user", "next": "/<script>"},
    ),
    Scenario(
        "POST /auth/login",
        "form, locked: 303 back to the form",
        "/auth/login?next=/artists",
        form=RIGHT,
        arrange=_locked,
    ),
    *(
        Scenario(
            "POST /auth/login",
            f"form, hostile next {i}",
            "/auth/login",
            form={**RIGHT, "next": target},
            volatile=LOGGED_IN,
        )
        for i, target in enumerate(HOSTILE_NEXT)
    ),
    Scenario(
        "POST /auth/login",
        "form, control characters in next",
        "/auth/login",
        form={**RIGHT, "next": "/videos\r\nSet-Cookie: x=1\x00"},
        volatile=LOGGED_IN,
    ),
    Scenario(
        "POST /auth/login",
        "form, wrong password, control characters in next",
        "/auth/login",
        form={**WRONG, "next": "/videos\r\n\t/x"},
        volatile=FAILED,
    ),
    Scenario(
        "POST /auth/login",
        "JSON, address past its allowance",
        "/auth/login",
        json=RIGHT,
        arrange=_address_spent,
    ),
    Scenario(
        "POST /auth/login",
        "form, address past its allowance",
        "/auth/login",
        form=WRONG,
        arrange=_address_spent,
    ),
    Scenario(
        "POST /auth/login",
        "JSON, the address's window is over",
        "/auth/login",
        json=WRONG,
        arrange=_address_window_over,
        volatile=FAILED,
    ),
    Scenario("POST /auth/logout", "cookie", "/auth/logout", role="user", volatile=REVOKED),
    Scenario("POST /auth/logout", "admin", "/auth/logout", role="admin", volatile=REVOKED),
    Scenario(
        "POST /auth/logout", "bearer, no cookie", "/auth/logout", role="manager", auth="bearer"
    ),
    Scenario("POST /auth/logout", "readonly", "/auth/logout", role="readonly"),
    Scenario("POST /auth/logout", "anonymous", "/auth/logout"),
    Scenario(
        "POST /auth/logout",
        "revoked session",
        "/auth/logout",
        role="user",
        arrange=_revoke_sessions,
    ),
)


NEW_USER = {
    "username": "newbie",
    "password": "long-enough-1",
    "email": "n@example.org",
    "role": "user",
}
# Fresh values both sides write at their own moment: they may differ.
NEW_ROW = ("created_at", "rows.users.*.created_at", "rows.users.*.password_hash")
TOUCHED_SETTINGS = ("rows.settings.*.updated_at",)


SCENARIOS: tuple[Scenario, ...] = (
    *LOGIN,
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
    Scenario("GET /api/health/database", "anonymous", "/api/health/database"),
    Scenario("GET /api/health/database", "user", "/api/health/database", role="user"),
    # Latency and pool figures describe each side's own engine.
    Scenario(
        "GET /api/health/database",
        "manager",
        "/api/health/database",
        role="manager",
        volatile=(
            "latency_ms",
            "pool.size",
            "pool.checked_out",
            "pool.overflow",
            "pool.checked_in",
        ),
    ),
    Scenario("GET /api/auth/me", "anonymous", "/api/auth/me"),
    Scenario("GET /api/auth/me", "readonly", "/api/auth/me", role="readonly"),
    Scenario("GET /api/auth/me", "bearer", "/api/auth/me", role="admin", auth="bearer"),
    Scenario(
        "POST /api/auth/token",
        "right password",
        "/api/auth/token",
        json={"username": "parity_user", "password": "parity-password"},
        volatile=("access_token", "rows.users.*.last_login_at"),
    ),
    Scenario(
        "POST /api/auth/token",
        "wrong password",
        "/api/auth/token",
        json={"username": "parity_user", "password": "nope"},
        volatile=FAILED,
    ),
    Scenario(
        "POST /api/auth/token",
        "address past its allowance",
        "/api/auth/token",
        json=RIGHT,
        arrange=_address_spent,
    ),
    Scenario(
        "POST /api/auth/token",
        "unknown user",
        "/api/auth/token",
        json={"username": "nobody", "password": "nope"},
        volatile=FAILED,
    ),
    Scenario("POST /api/auth/token", "malformed JSON", "/api/auth/token", raw=b"{nope"),
    Scenario(
        "POST /api/auth/token",
        "wrong type",
        "/api/auth/token",
        json={"username": 5, "password": "x"},
    ),
    Scenario("GET /api/users", "anonymous", "/api/users"),
    Scenario("GET /api/users", "manager", "/api/users", role="manager"),
    Scenario("GET /api/users", "admin", "/api/users", role="admin"),
    Scenario(
        "POST /api/users",
        "admin creates",
        "/api/users",
        role="admin",
        json=NEW_USER,
        volatile=NEW_ROW,
    ),
    Scenario(
        "POST /api/users",
        "duplicate username",
        "/api/users",
        role="admin",
        json={**NEW_USER, "username": "parity_user"},
    ),
    Scenario(
        "POST /api/users",
        "short password",
        "/api/users",
        role="admin",
        json={**NEW_USER, "password": "short"},
    ),
    Scenario(
        "POST /api/users",
        "unknown role",
        "/api/users",
        role="admin",
        json={**NEW_USER, "role": "owner"},
    ),
    Scenario("POST /api/users", "malformed JSON", "/api/users", role="admin", raw=b"{"),
    Scenario("POST /api/users", "manager", "/api/users", role="manager", json=NEW_USER),
    Scenario(
        "PUT /api/users/<int:user_id>/role",
        "promote",
        f"/api/users/{USER}/role",
        role="admin",
        json={"role": "manager"},
    ),
    Scenario(
        "PUT /api/users/<int:user_id>/role",
        "last admin",
        f"/api/users/{ADMIN}/role",
        role="admin",
        json={"role": "user"},
    ),
    Scenario(
        "PUT /api/users/<int:user_id>/role",
        "unknown user",
        "/api/users/99/role",
        role="admin",
        json={"role": "user"},
    ),
    Scenario(
        "PUT /api/users/<int:user_id>/role",
        "bad role",
        f"/api/users/{USER}/role",
        role="admin",
        json={"role": 7},
    ),
    Scenario(
        "PUT /api/users/<int:user_id>/role",
        "user",
        f"/api/users/{USER}/role",
        role="user",
        json={"role": "admin"},
    ),
    Scenario(
        "DELETE /api/users/<int:user_id>", "admin deletes", f"/api/users/{USER}", role="admin"
    ),
    Scenario("DELETE /api/users/<int:user_id>", "last admin", f"/api/users/{ADMIN}", role="admin"),
    Scenario("DELETE /api/users/<int:user_id>", "unknown", "/api/users/99", role="admin"),
    Scenario("DELETE /api/users/<int:user_id>", "anonymous", f"/api/users/{USER}"),
    Scenario(
        "PUT /api/users/me/preferences",
        "merge",
        "/api/users/me/preferences",
        role="readonly",
        json={"theme": "dark", "volume": 3},
    ),
    Scenario(
        "PUT /api/users/me/preferences",
        "not an object",
        "/api/users/me/preferences",
        role="readonly",
        json=[1, 2],
    ),
    Scenario(
        "PUT /api/users/me/preferences",
        "anonymous",
        "/api/users/me/preferences",
        json={"theme": "dark"},
    ),
    Scenario(
        "GET /api/settings",
        "admin, secrets masked",
        "/api/settings",
        role="admin",
        arrange=_some_settings,
    ),
    Scenario("GET /api/settings", "manager", "/api/settings", role="manager"),
    Scenario(
        "GET /api/settings/<key>",
        "manager sees a mask",
        "/api/settings/imvdb_api_key",
        role="manager",
        arrange=_some_settings,
    ),
    Scenario(
        "GET /api/settings/<key>",
        "admin sees the value",
        "/api/settings/imvdb_api_key",
        role="admin",
        arrange=_some_settings,
    ),
    Scenario("GET /api/settings/<key>", "unknown", "/api/settings/nope", role="manager"),
    Scenario(
        "PUT /api/settings/<key>",
        "create",
        "/api/settings/theme",
        role="admin",
        json={"value": "dark", "description": "UI theme"},
        volatile=TOUCHED_SETTINGS,
    ),
    Scenario(
        "PUT /api/settings/<key>",
        "update",
        "/api/settings/page_size",
        role="admin",
        json={"value": 50},
        arrange=_some_settings,
        volatile=TOUCHED_SETTINGS,
    ),
    Scenario(
        "PUT /api/settings/<key>",
        "bad key",
        "/api/settings/bad%20key",
        role="admin",
        json={"value": 1},
    ),
    Scenario(
        "PUT /api/settings/<key>",
        "no value",
        "/api/settings/theme",
        role="admin",
        json={"description": "x"},
    ),
    Scenario(
        "PUT /api/settings/<key>",
        "manager",
        "/api/settings/theme",
        role="manager",
        json={"value": 1},
    ),
    Scenario(
        "DELETE /api/settings/<key>",
        "existing",
        "/api/settings/site_name",
        role="admin",
        arrange=_some_settings,
    ),
    Scenario("DELETE /api/settings/<key>", "unknown", "/api/settings/nope", role="admin"),
    Scenario(
        "PUT /api/settings/bulk",
        "several",
        "/api/settings/bulk",
        role="admin",
        json={"settings": {"page_size": 10, "new_key": "x"}},
        arrange=_some_settings,
        volatile=TOUCHED_SETTINGS,
    ),
    Scenario(
        "PUT /api/settings/bulk",
        "one bad key writes nothing",
        "/api/settings/bulk",
        role="admin",
        json={"settings": {"ok": 1, "bad key": 2}},
        arrange=_some_settings,
    ),
    Scenario(
        "PUT /api/settings/bulk", "empty", "/api/settings/bulk", role="admin", json={"settings": {}}
    ),
)
