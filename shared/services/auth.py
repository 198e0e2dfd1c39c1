"""Login with lockout, session rows, and resolving who a cookie or token belongs to."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.auth.passwords import verify_password
from shared.auth.tokens import read_token
from shared.clock import utcnow
from shared.config import Settings
from shared.db.models import User, UserSession
from shared.errors import AppError, AuthRequired, Locked

INVALID_CREDENTIALS = "Invalid username or password"
# Refresh last_seen_at at most this often, so reads do not write on every request.
_SEEN_RESOLUTION = timedelta(seconds=60)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def attempt_login(
    session: Session, settings: Settings, username: str, password: str
) -> tuple[User | None, AppError | None]:
    """Check credentials and count failures toward the lockout.

    Returns the error instead of raising it: the failure count must be committed
    even though the request fails.
    """
    now = utcnow()
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        return None, AuthRequired(INVALID_CREDENTIALS)
    if user.locked_until is not None and user.locked_until > now:
        return None, Locked("Account locked after too many failed logins; try again later")
    if not verify_password(password, user.password_hash):
        user.failed_login_count += 1
        if user.failed_login_count >= settings.lockout_threshold:
            user.locked_until = now + timedelta(seconds=settings.lockout_s)
            user.failed_login_count = 0
        session.flush()
        return None, AuthRequired(INVALID_CREDENTIALS)
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    return user, None


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


def user_for_session_token(session: Session, token: str) -> User | None:
    """The user of a live (not revoked, not expired) session, or None."""
    now = utcnow()
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        return None
    user_session, user = row
    if user_session.revoked_at is not None or user_session.expires_at <= now:
        return None
    if user_session.last_seen_at is None or now - user_session.last_seen_at > _SEEN_RESOLUTION:
        user_session.last_seen_at = now
        session.flush()
    return user


def revoke_session_token(session: Session, token: str) -> bool:
    row = session.scalars(
        select(UserSession).where(UserSession.token_hash == hash_token(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.flush()
    return True


def user_for_bearer(session: Session, settings: Settings, token: str) -> User | None:
    """The user a valid bearer token names, or None (bad, expired, or user gone)."""
    try:
        user_id = read_token(settings, token)
    except AuthRequired:
        return None
    return session.get(User, user_id)


def safe_next(target: str | None) -> str:
    """Only same-site paths: '/x' yes, '//evil.example' and 'http://…' no."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
