"""scrypt password hashes in werkzeug's format, without needing werkzeug (or Flask)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

_PREFIX = "scrypt"


def hash_password(password: str, *, n: int = 2**15, r: int = 8, p: int = 1) -> str:
    salt = secrets.token_hex(16)
    digest = _scrypt(password, salt, n, r, p)
    return f"{_PREFIX}:{n}:{r}:{p}${salt}${digest}"


def verify_password(password: str, stored: str) -> bool:
    try:
        method, salt, expected = stored.split("$", 2)
        name, n, r, p = method.split(":")
    except ValueError:
        return False
    if name != _PREFIX:
        return False
    return hmac.compare_digest(_scrypt(password, salt, int(n), int(r), int(p)), expected)


def _scrypt(password: str, salt: str, n: int, r: int, p: int) -> str:
    return hashlib.scrypt(
        password.encode(),
        salt=salt.encode(),
        n=n,
        r=r,
        p=p,
        maxmem=max(64 * 1024 * 1024, 132 * n * r * p),
    ).hex()
