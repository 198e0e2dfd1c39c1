"""JWT bearer tokens for API clients, signed with SECRET_KEY (fallback keys verify too)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

import jwt

from shared.clock import utcnow
from shared.config import Settings
from shared.errors import AuthRequired

ALGORITHM = "HS256"


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
    for key in settings.signing_keys:
        try:
            claims = jwt.decode(
                token, _jwt_key(key), algorithms=[ALGORITHM], options={"require": ["exp"]}
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.ExpiredSignatureError as exc:
            raise AuthRequired("Token expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthRequired("Invalid token") from exc
        if claims.get("type") != "access" or not str(claims.get("sub", "")).isdigit():
            raise AuthRequired("Invalid token")
        return int(claims["sub"])
    raise AuthRequired("Invalid token")
