"""Flask's session cookie format, read and written without Flask.

The legacy app keeps its login in Flask's signed cookie session. The FastAPI side must
honour the same cookie (and set it, on login) while Flask may be absent, so this codec
rebuilds Flask's SecureCookieSessionInterface from itsdangerous alone: salt
"cookie-session", HMAC key derivation, SHA-1, compact JSON, fallback keys for rotation.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from shared.config import Settings

SALT = "cookie-session"


class _CompactJSON:
    """Flask's tagged JSON, for the plain values a figway session holds (str, bool)."""

    @staticmethod
    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

    @staticmethod
    def loads(value: str | bytes) -> Any:
        return json.loads(value)


class SessionCookieCodec:
    def __init__(self, settings: Settings) -> None:
        self.name = settings.session_cookie_name
        self.max_age = settings.session_lifetime_s
        self.secure = settings.session_cookie_secure
        # itsdangerous signs with the last key and verifies with every one.
        keys = list(reversed(settings.signing_keys))
        self._serializer = URLSafeTimedSerializer(
            keys,
            salt=SALT,
            serializer=_CompactJSON,
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
        )

    def loads(self, cookie: str | None) -> dict[str, Any]:
        """The session's contents; empty for a missing, forged or expired cookie."""
        if not cookie:
            return {}
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except (BadSignature, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def dumps(self, data: dict[str, Any]) -> str:
        return self._serializer.dumps(data)

    def set_cookie(self, data: dict[str, Any]) -> str:
        """A Set-Cookie value as Flask writes it for a permanent session (sliding expiry)."""
        expires = datetime.now(UTC) + timedelta(seconds=self.max_age)
        parts = [
            f"{self.name}={self.dumps(data)}",
            f"Expires={format_datetime(expires, usegmt=True)}",
            "HttpOnly",
            "Path=/",
        ]
        if self.secure:
            parts.append("Secure")
        parts.append("SameSite=Lax")
        return "; ".join(parts)

    def clear_cookie(self) -> str:
        """The Set-Cookie value Flask sends when a session is emptied (logout)."""
        return (
            f"{self.name}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; "
            "Path=/; SameSite=Lax"
        )
