"""JWT bearer tokens for API clients, signed with SECRET_KEY (fallback keys verify too)."""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import timedelta
from typing import Any

import jwt

from shared.clock import utcnow
from shared.config import Settings
from shared.errors import AuthRequired

ALGORITHM = "HS256"


@functools.lru_cache(maxsize=16)
def _jwt_key(secret: str) -> bytes:
    # Derived, not the raw SECRET_KEY: a 32-byte HMAC key whatever the secret's length,
    # and a token can never double as a session cookie signature.
    return hmac.new(secret.encode(), b"figway.jwt.v1", hashlib.sha256).digest()


def issue_token(settings: Settings, user_id: int, role: str) -> dict[str, Any]:
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "role": role,
        "type": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.jwt_expires_s)).timestamp()),
    }
    token = jwt.encode(claims, _jwt_key(settings.signing_keys[0]), algorithm=ALGORITHM)
    return {"access_token": token, "token_type": "bearer", "expires_in": settings.jwt_expires_s}


def read_token(settings: Settings, token: str) -> int:
    """The user id a valid token names; AuthRequired for anything else."""
    user_id, expires = _verified(tuple(settings.signing_keys), token)
    # The one check that changes with time, made at every use.
    if expires <= utcnow().timestamp():
        raise AuthRequired("Token expired")
    return user_id


# Remembered per token: what its signature and claims say never changes, and verifying
# them (HMAC, base64, JSON) was a tenth of an authenticated twin's CPU per request. The
# expiry is compared with the clock at each use (read_token); revocation is the caller
# lookup's business, never this cache's. Bad tokens raise, and are not remembered.
@functools.lru_cache(maxsize=4096)
def _verified(keys: tuple[str, ...], token: str) -> tuple[int, float]:
    for key in keys:
        try:
            claims = jwt.decode(
                token,
                _jwt_key(key),
                algorithms=[ALGORITHM],
                options={"require": ["exp"], "verify_exp": False},
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise AuthRequired("Invalid token") from exc
        if claims.get("type") != "access" or not str(claims.get("sub", "")).isdigit():
            raise AuthRequired("Invalid token")
        expires = claims["exp"]
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            raise AuthRequired("Invalid token")
        return int(claims["sub"]), float(expires)
    raise AuthRequired("Invalid token")
