"""Login (lockout, per-address throttle, safe next), session rows, and resolving who a cookie
or token belongs to."""

from __future__ import annotations

import hashlib
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast
from urllib.parse import unquote, urlencode, urlsplit

from sqlalchemy import (
    Connection,
    Executable,
    Table,
    bindparam,
    case,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shared.auth.passwords import hash_password, verify_password
from shared.auth.tokens import read_token
from shared.clock import utcnow
from shared.config import Settings
from shared.db.base import UTCDateTime
from shared.db.models import LoginThrottle, User, UserSession
from shared.db.plan import Plan, run
from shared.errors import AppError, AuthRequired, Locked, RateLimited
from shared.serializers import Row

log = logging.getLogger("figway.auth")

INVALID_CREDENTIALS = "Invalid username or password"
LOCKED = "Account locked after too many failed logins; try again later"
THROTTLED = "Too many failed logins from your address; try again later"
# What the login page says after a failed form login, by the error's code: the page is
# given the code, never a message, so a crafted link cannot make it say anything else.
LOGIN_PAGE_ERRORS = {
    AuthRequired.code: INVALID_CREDENTIALS,
    Locked.code: LOCKED,
    RateLimited.code: THROTTLED,
    "VALIDATION_ERROR": "Enter a username and a password",
    "BAD_REQUEST": "Enter a username and a password",
}
# Refresh last_seen_at at most this often, so reads do not write on every request.
_SEEN_RESOLUTION = timedelta(seconds=60)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_USERS = cast(Table, User.__table__)
_SESSIONS = cast(Table, UserSession.__table__)
_THROTTLE = cast(Table, LoginThrottle.__table__)
_NOW = bindparam("now", type_=UTCDateTime())


@dataclass(frozen=True)
class LoginCheck:
    """A login read and ready to verify: the user's row (None for an unknown name, whose
    password is verified against a dummy hash at the configured cost), and who and where
    the attempt is from."""

    user_id: int | None
    username: str | None
    stored_hash: str | None
    scrypt_n: int
    address: str
    now: datetime


def attempt_login(
    session: Session | Connection,
    settings: Settings,
    username: str,
    password: str,
    client: str | None,
) -> tuple[Caller | None, AppError | None]:
    """Check credentials; count failures toward the account's lock and the address's throttle.

    Returns the error instead of raising it: the failure count must be committed even
    though the request fails. The legacy side's executor of the three steps; the twins run
    the same two plans on their connection, with the slow middle one (scrypt) in a thread.
    """
    check = run(session, start_login, settings, username, client)
    if isinstance(check, AppError):
        return None, check
    matched = password_matches(check, password)
    return run(session, finish_login, settings, check, matched, dialect_of(session))


def dialect_of(session: Session | Connection) -> str:
    """The name of the dialect `session` speaks, for the plans that write it its own way."""
    bind = session.get_bind() if isinstance(session, Session) else session
    return bind.dialect.name


# The row a login is checked against; the address's failures in their window.
_LOGIN_USER = select(
    _USERS.c.id, _USERS.c.username, _USERS.c.password_hash, _USERS.c.locked_until
).where(_USERS.c.username == bindparam("username"))
_ADDRESS_FAILURES = select(_THROTTLE.c.failures, _THROTTLE.c.window_started_at).where(
    _THROTTLE.c.client == bindparam("address")
)


def start_login(
    settings: Settings, username: str, client: str | None
) -> Plan[LoginCheck | AppError]:
    """What the password must be verified against, or why no verification will do."""
    address = (client or "unknown")[:64]
    now = utcnow()
    throttled = yield from _throttled(settings, address, now)
    if throttled is not None:
        return throttled
    row = (yield _LOGIN_USER, {"username": username}).one_or_none()
    if row is None:
        # The same scrypt work as for a known name (password_matches): the answer's time
        # must not tell whether a username exists.
        return LoginCheck(None, None, None, settings.password_scrypt_n, address, now)
    if row.locked_until is not None and row.locked_until > now:
        return Locked(LOCKED)
    return LoginCheck(
        row.id, row.username, row.password_hash, settings.password_scrypt_n, address, now
    )


def password_matches(check: LoginCheck, password: str) -> bool:
    """The slow step, with no database work: a thread may run it (and makes the dummy hash,
    once per process, when an unknown name first needs it)."""
    stored = check.stored_hash if check.stored_hash is not None else _dummy_hash(check.scrypt_n)
    return verify_password(password, stored) and check.user_id is not None


# Every count is a conditional UPDATE on the row as it is now, never a read-modify-write.
_UNLOCKED = or_(_USERS.c.locked_until.is_(None), _USERS.c.locked_until <= _NOW)
_OPEN_ACCOUNT = (
    update(_USERS)
    .where(_USERS.c.id == bindparam("user_id"), _UNLOCKED)
    .values(failed_login_count=0, locked_until=None, last_login_at=_NOW)
)
_COUNT_FAILURE = (
    update(_USERS)
    .where(_USERS.c.id == bindparam("user_id"), _UNLOCKED)
    .values(failed_login_count=_USERS.c.failed_login_count + 1)
)
_LOCK_ACCOUNT = (
    update(_USERS)
    .where(
        _USERS.c.id == bindparam("user_id"),
        _USERS.c.failed_login_count >= bindparam("threshold"),
    )
    .values(
        locked_until=bindparam("lock_until", type_=UTCDateTime()),
        failed_login_count=0,
    )
)


def finish_login(
    settings: Settings, check: LoginCheck, matched: bool, dialect: str
) -> Plan[tuple[Caller | None, AppError | None]]:
    """Count a failure, or open the account if it is still unlocked; the caller it opened.

    Every count is a conditional UPDATE on the row as it is now, never a read-modify-write
    of what start_login read: concurrent wrong passwords each count, and a right password
    that raced past a lock finds it. `dialect`: the connection's, for the address's upsert.
    """
    if not matched or check.user_id is None:
        return None, (yield from _count_failure(settings, check, dialect))
    now = check.now
    throttled = yield from _throttled(settings, check.address, now)  # failures raced past
    if throttled is not None:
        return None, throttled
    opened = yield _OPEN_ACCOUNT, {"user_id": check.user_id, "now": now}
    if opened.rowcount == 0:
        return None, Locked(LOCKED)
    row = (yield BEARER_CALLER, {"user_id": check.user_id}).mappings().one()
    return Caller.of(row), None


def unlock(session: Session, user: User) -> None:
    """Lift a user's lock and forget their failures (an admin's remedy for a locked account)."""
    user.failed_login_count = 0
    user.locked_until = None
    session.flush()


@lru_cache(maxsize=4)
def _dummy_hash(n: int) -> str:
    """A hash at the configured cost, made once per process, to verify unknown names against."""
    return hash_password(secrets.token_urlsafe(16), n=n)


def _count_failure(settings: Settings, check: LoginCheck, dialect: str) -> Plan[AppError]:
    failures = yield from _record_address_failure(settings, check.address, check.now, dialect)
    if failures > settings.login_throttle_failures:
        # Past the address's allowance: the guess does not count toward the account's lock,
        # so one address cannot keep every account locked.
        return _rate_limited(settings)
    if check.user_id is None:
        return AuthRequired(INVALID_CREDENTIALS)
    counted = yield _COUNT_FAILURE, {"user_id": check.user_id, "now": check.now}
    if counted.rowcount == 0:
        return Locked(LOCKED)  # locked by a concurrent failure since this request looked
    locked = yield (
        _LOCK_ACCOUNT,
        {
            "user_id": check.user_id,
            "threshold": settings.lockout_threshold,
            "lock_until": check.now + timedelta(seconds=settings.lockout_s),
        },
    )
    if locked.rowcount:
        log.warning(
            "login: account %r locked for %d s after %d failed logins; the last from %s",
            check.username,
            settings.lockout_s,
            settings.lockout_threshold,
            check.address,
        )
    return AuthRequired(INVALID_CREDENTIALS)


def _throttled(settings: Settings, address: str, now: datetime) -> Plan[RateLimited | None]:
    row = (yield _ADDRESS_FAILURES, {"address": address}).one_or_none()
    if row is None or row.failures < settings.login_throttle_failures:
        return None
    if row.window_started_at <= now - timedelta(seconds=settings.login_throttle_window_s):
        return None
    return _rate_limited(settings)


def _rate_limited(settings: Settings) -> RateLimited:
    # The whole window, not what is left of it: an upper bound that is the same whenever
    # it is computed, so both sides (and a retry) agree to the second.
    return RateLimited(THROTTLED, headers={"Retry-After": str(settings.login_throttle_window_s)})


def _address_upsert(dialect: str) -> Executable:
    """Count one failure for an address in one atomic upsert (the dialect's own: SQLite's
    ON CONFLICT, MariaDB's ON DUPLICATE KEY); a window older than the setting starts again
    at this failure."""
    stale = _THROTTLE.c.window_started_at <= bindparam("stale_before", type_=UTCDateTime())
    # Failures first: MariaDB assigns left to right, so window_started_at must still be
    # the old one when the count is decided (SQLite reads the old row throughout).
    changes: list[tuple[str, Any]] = [
        ("failures", case((stale, 1), else_=_THROTTLE.c.failures + 1)),
        ("window_started_at", case((stale, _NOW), else_=_THROTTLE.c.window_started_at)),
    ]
    row = {"client": bindparam("address"), "failures": 1, "window_started_at": _NOW}
    if dialect == "sqlite":
        return (
            sqlite_insert(_THROTTLE)
            .values(row)
            .on_conflict_do_update(index_elements=[_THROTTLE.c.client], set_=dict(changes))
        )
    return mysql_insert(_THROTTLE).values(row).on_duplicate_key_update(changes)


# Built once: SQLite's, and MariaDB's (the name of every other dialect figway speaks).
_ADDRESS_UPSERTS = {dialect: _address_upsert(dialect) for dialect in ("sqlite", "mysql")}
_ADDRESS_COUNT = select(_THROTTLE.c.failures).where(_THROTTLE.c.client == bindparam("address"))


def _record_address_failure(
    settings: Settings, address: str, now: datetime, dialect: str
) -> Plan[int]:
    """Count one failure for `address`; the address's count after it."""
    stale_before = now - timedelta(seconds=settings.login_throttle_window_s)
    yield (
        _ADDRESS_UPSERTS["sqlite" if dialect == "sqlite" else "mysql"],
        {"address": address, "now": now, "stale_before": stale_before},
    )
    failures: int = (yield _ADDRESS_COUNT, {"address": address}).scalar_one()
    return failures


_NEW_SESSION = insert(_SESSIONS)


def new_session(
    settings: Settings,
    user_id: int,
    *,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> Plan[str]:
    """Record a logged-in session; the returned token goes into the signed cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = {
        "user_id": user_id,
        "token_hash": hash_token(token),
        "created_at": now,
        "expires_at": now + timedelta(seconds=settings.session_lifetime_s),
        "last_seen_at": now,
        "ip_address": (ip_address or "")[:64] or None,
        "user_agent": (user_agent or "")[:255] or None,
    }
    yield _NEW_SESSION, row
    return token


def open_session(
    session: Session | Connection,
    settings: Settings,
    user: User | Caller,
    *,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> str:
    """new_session on a sync Session (the caller commits): for tools and tests."""
    return run(
        session, new_session, settings, user.id, ip_address=ip_address, user_agent=user_agent
    )


# --- who is calling: the statements, and the legacy side's executor -----------------
# One indexed lookup per request, no ORM: the bearer's user by primary key, or the cookie's
# session joined to its user on the token hash's unique index. The twins await the same
# statements on their AsyncConnection (fastapi_app/deps.py).


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as read for this request: never cached, never an ORM object."""

    id: int
    username: str
    email: str | None
    role: str
    created_at: datetime
    last_login_at: datetime | None
    preferences: dict[str, Any]

    @classmethod
    def of(cls, row: Row) -> Caller:
        return cls(
            id=row["id"],
            username=row["username"],
            email=row["email"],
            role=row["role"],
            created_at=row["created_at"],
            last_login_at=row["last_login_at"],
            preferences=row["preferences"] or {},
        )


_CALLER_COLUMNS = [
    _USERS.c[name]
    for name in ("id", "username", "email", "role", "created_at", "last_login_at", "preferences")
]
# Bound at execution: one statement object (and one compiled form) for every request.
BEARER_CALLER = select(*_CALLER_COLUMNS).where(_USERS.c.id == bindparam("user_id"))
SESSION_CALLER = (
    select(
        *_CALLER_COLUMNS,
        _SESSIONS.c.id.label("session_id"),
        _SESSIONS.c.last_seen_at.label("session_seen_at"),
    )
    .join_from(_SESSIONS, _USERS, _USERS.c.id == _SESSIONS.c.user_id)
    .where(
        _SESSIONS.c.token_hash == bindparam("token_hash"),
        _SESSIONS.c.revoked_at.is_(None),
        _SESSIONS.c.expires_at > bindparam("now", type_=UTCDateTime()),
    )
)
# Conditional, so that concurrent requests of one session write it once per resolution.
TOUCH_SESSION = (
    update(_SESSIONS)
    .where(
        _SESSIONS.c.id == bindparam("session_id"),
        or_(
            _SESSIONS.c.last_seen_at.is_(None),
            _SESSIONS.c.last_seen_at <= bindparam("seen_before", type_=UTCDateTime()),
        ),
    )
    .values(last_seen_at=bindparam("now", type_=UTCDateTime()))
)


def bearer_params(settings: Settings, token: str) -> dict[str, Any] | None:
    """BEARER_CALLER's parameters, or None for a bad or expired token (no lookup at all)."""
    try:
        return {"user_id": read_token(settings, token)}
    except AuthRequired:
        return None


def session_params(token: str, now: datetime) -> dict[str, Any]:
    return {"token_hash": hash_token(token), "now": now}


def touch_params(row: Row, now: datetime) -> dict[str, Any] | None:
    """TOUCH_SESSION's parameters when last_seen_at is due (throttled), else None."""
    seen = row["session_seen_at"]
    if seen is not None and now - seen <= _SEEN_RESOLUTION:
        return None
    return {"session_id": row["session_id"], "seen_before": now - _SEEN_RESOLUTION, "now": now}


def caller_for_bearer(session: Session, settings: Settings, token: str) -> Caller | None:
    """The caller a valid bearer token names, or None (bad, expired, or user gone)."""
    params = bearer_params(settings, token)
    if params is None:
        return None
    row = session.execute(BEARER_CALLER, params).mappings().one_or_none()
    return Caller.of(row) if row is not None else None


def caller_for_session_token(session: Session, token: str) -> Caller | None:
    """The caller of a live (not revoked, not expired) session, or None; refreshes the
    session's last_seen_at when due (the caller commits it)."""
    now = utcnow()
    row = session.execute(SESSION_CALLER, session_params(token, now)).mappings().one_or_none()
    if row is None:
        return None
    touch = touch_params(row, now)
    if touch is not None:
        session.execute(TOUCH_SESSION, touch)
    return Caller.of(row)


# A logout: the cookie's session ends, once (a second logout with it changes nothing).
REVOKE_SESSION = (
    update(_SESSIONS)
    .where(_SESSIONS.c.token_hash == bindparam("hash"), _SESSIONS.c.revoked_at.is_(None))
    .values(revoked_at=_NOW)
)


def revoke_params(token: str) -> dict[str, Any]:
    return {"hash": hash_token(token), "now": utcnow()}


def safe_next(target: Any) -> str:
    """The same-site path to go to after a login, or "/".

    Control characters are dropped first: browsers drop tabs and newlines from a URL too,
    so "/<TAB>/evil.example" is "//evil.example" to them. Then only a path of this site
    passes: no scheme, no host, no "//", no backslash (browsers read it as "/"), in the
    text or once percent-decoded. What passes is printable ASCII (the rest
    percent-encoded), so it goes into a Location header as is.
    """
    if not isinstance(target, str):
        return "/"
    path = _printable(target)
    for form in (path, _printable(unquote(path))):
        if not form.startswith("/") or form.startswith("//") or "\\" in form:
            return "/"
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return "/"
    return "".join(ch if "!" <= ch <= "~" else _percent(ch) for ch in path)


def login_page_url(next_: Any, error: AppError | None = None, username: Any = None) -> str:
    """The login page, with where to go next and, after a failed form login, the error's
    code and the name typed (never the password): the Post/Redirect/Get target."""
    query = {"next": safe_next(next_)}
    if error is not None:
        query["error"] = error.code
        if isinstance(username, str) and username:
            query["username"] = username[:80]
    return "/login?" + urlencode(query)


def login_page_context(args: Any) -> dict[str, str | None]:
    """What the login page shows, from its query: the normalised next, a known error's
    message and the name typed."""
    username = args.get("username")
    return {
        "next": safe_next(args.get("next")),
        "error": LOGIN_PAGE_ERRORS.get(args.get("error") or ""),
        "username": _printable(username)[:80] if isinstance(username, str) else "",
    }


# Control, format, surrogate, private and unassigned characters, and line and paragraph
# separators: nothing a path or a name needs, and what splits headers or hides text.
_UNPRINTABLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def _printable(text: str) -> str:
    """`text` without the characters of _UNPRINTABLE."""
    return "".join(ch for ch in text if unicodedata.category(ch) not in _UNPRINTABLE)


def _percent(ch: str) -> str:
    return "".join(f"%{byte:02X}" for byte in ch.encode())
