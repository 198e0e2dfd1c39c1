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
    ColumnElement,
    CursorResult,
    Table,
    bindparam,
    case,
    literal,
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


@dataclass(frozen=True)
class LoginCheck:
    """A login read and ready to verify: the hash to check the password against (a dummy
    one for an unknown name), and who and where the attempt is from."""

    user: User | None
    stored_hash: str
    address: str
    now: datetime


def attempt_login(
    session: Session, settings: Settings, username: str, password: str, client: str | None
) -> tuple[User | None, AppError | None]:
    """Check credentials; count failures toward the account's lock and the address's throttle.

    Returns the error instead of raising it: the failure count must be committed even
    though the request fails. The async side runs the same three steps with the slow
    middle one (scrypt) off its event loop.
    """
    check = start_login(session, settings, username, client)
    if isinstance(check, AppError):
        return None, check
    return finish_login(session, settings, check, password_matches(check, password))


def start_login(
    session: Session, settings: Settings, username: str, client: str | None
) -> LoginCheck | AppError:
    """What the password must be verified against, or why no verification will do."""
    address = (client or "unknown")[:64]
    now = utcnow()
    throttled = _throttled(session, settings, address, now)
    if throttled is not None:
        return throttled
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        # The same scrypt work as for a known name: the answer's time must not tell
        # whether a username exists.
        return LoginCheck(None, _dummy_hash(settings.password_scrypt_n), address, now)
    if user.locked_until is not None and user.locked_until > now:
        return Locked(LOCKED)
    return LoginCheck(user, user.password_hash, address, now)


def password_matches(check: LoginCheck, password: str) -> bool:
    """The slow step, with no database work: a thread may run it."""
    return verify_password(password, check.stored_hash) and check.user is not None


def finish_login(
    session: Session, settings: Settings, check: LoginCheck, matched: bool
) -> tuple[User | None, AppError | None]:
    """Count a failure, or open the account if it is still unlocked.

    Every count is a conditional UPDATE on the row as it is now, never a read-modify-write
    of what start_login read: concurrent wrong passwords each count, and a right password
    that raced past a lock finds it.
    """
    if not matched or check.user is None:
        return None, _count_failure(session, settings, check.user, check.address, check.now)
    user, now = check.user, check.now
    throttled = _throttled(session, settings, check.address, now)  # failures raced past
    if throttled is not None:
        return None, throttled
    opened = _update(
        session,
        update(User)
        .where(User.id == user.id, _unlocked(now))
        .values(failed_login_count=0, locked_until=None, last_login_at=now),
    )
    if opened.rowcount == 0:
        return None, Locked(LOCKED)
    session.refresh(user)
    return user, None


def unlock(session: Session, user: User) -> None:
    """Lift a user's lock and forget their failures (an admin's remedy for a locked account)."""
    user.failed_login_count = 0
    user.locked_until = None
    session.flush()


@lru_cache(maxsize=4)
def _dummy_hash(n: int) -> str:
    """A hash at the configured cost, made once per process, to verify unknown names against."""
    return hash_password(secrets.token_urlsafe(16), n=n)


def _unlocked(now: datetime) -> ColumnElement[bool]:
    return or_(User.locked_until.is_(None), User.locked_until <= now)


def _update(session: Session, statement: Any) -> CursorResult[Any]:
    # synchronize_session=False: the conditions run on the row in the database, not on
    # the copy this session read; the caller refreshes what it returns.
    result = session.execute(statement.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result)


def _count_failure(
    session: Session, settings: Settings, user: User | None, address: str, now: datetime
) -> AppError:
    if _record_address_failure(session, settings, address, now) > settings.login_throttle_failures:
        # Past the address's allowance: the guess does not count toward the account's lock,
        # so one address cannot keep every account locked.
        return _rate_limited(settings)
    if user is None:
        return AuthRequired(INVALID_CREDENTIALS)
    counted = _update(
        session,
        update(User)
        .where(User.id == user.id, _unlocked(now))
        .values(failed_login_count=User.failed_login_count + 1),
    )
    if counted.rowcount == 0:
        return Locked(LOCKED)  # locked by a concurrent failure since this request looked
    locked = _update(
        session,
        update(User)
        .where(User.id == user.id, User.failed_login_count >= settings.lockout_threshold)
        .values(locked_until=now + timedelta(seconds=settings.lockout_s), failed_login_count=0),
    )
    if locked.rowcount:
        log.warning(
            "login: account %r locked for %d s after %d failed logins; the last from %s",
            user.username,
            settings.lockout_s,
            settings.lockout_threshold,
            address,
        )
    return AuthRequired(INVALID_CREDENTIALS)


def _throttled(
    session: Session, settings: Settings, address: str, now: datetime
) -> RateLimited | None:
    row = session.execute(
        select(LoginThrottle.failures, LoginThrottle.window_started_at).where(
            LoginThrottle.client == address
        )
    ).one_or_none()
    if row is None or row.failures < settings.login_throttle_failures:
        return None
    if row.window_started_at <= now - timedelta(seconds=settings.login_throttle_window_s):
        return None
    return _rate_limited(settings)


def _rate_limited(settings: Settings) -> RateLimited:
    # The whole window, not what is left of it: an upper bound that is the same whenever
    # it is computed, so both sides (and a retry) agree to the second.
    return RateLimited(THROTTLED, headers={"Retry-After": str(settings.login_throttle_window_s)})


def _record_address_failure(
    session: Session, settings: Settings, address: str, now: datetime
) -> int:
    """Count one failure for `address` in one atomic upsert; the address's count after it.

    A window older than the setting starts again at this failure.
    """
    stale = LoginThrottle.window_started_at <= now - timedelta(
        seconds=settings.login_throttle_window_s
    )
    # Failures first: MariaDB assigns left to right, so window_started_at must still be
    # the old one when the count is decided (SQLite reads the old row throughout).
    changes: list[tuple[str, Any]] = [
        ("failures", case((stale, 1), else_=LoginThrottle.failures + 1)),
        (
            "window_started_at",
            case((stale, literal(now, UTCDateTime())), else_=LoginThrottle.window_started_at),
        ),
    ]
    row = {"client": address, "failures": 1, "window_started_at": now}
    if session.get_bind().dialect.name == "sqlite":
        sqlite_stmt = sqlite_insert(LoginThrottle).values(row)
        session.execute(
            sqlite_stmt.on_conflict_do_update(
                index_elements=[LoginThrottle.client], set_=dict(changes)
            )
        )
    else:
        session.execute(mysql_insert(LoginThrottle).values(row).on_duplicate_key_update(changes))
    failures: int = session.scalars(
        select(LoginThrottle.failures).where(LoginThrottle.client == address)
    ).one()
    return failures


def open_session(
    session: Session,
    settings: Settings,
    user: User,
    *,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> str:
    """Record a logged-in session; the returned token goes into the signed cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.session_lifetime_s),
            last_seen_at=now,
            ip_address=(ip_address or "")[:64] or None,
            user_agent=(user_agent or "")[:255] or None,
        )
    )
    session.flush()
    return token


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


_USERS = cast(Table, User.__table__)
_SESSIONS = cast(Table, UserSession.__table__)
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


def revoke_session_token(session: Session, token: str) -> bool:
    row = session.scalars(
        select(UserSession).where(UserSession.token_hash == hash_token(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.flush()
    return True


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
