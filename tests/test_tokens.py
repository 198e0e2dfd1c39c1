"""Bearer tokens: verified signatures are remembered per token, the expiry never is."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from shared.auth import tokens
from shared.auth.tokens import issue_token, read_token
from shared.config import Settings
from shared.errors import AuthRequired

SECRET = "token-test-secret-0123456789abcdef"


def settings(**changes: Any) -> Settings:
    return Settings(secret_key=SECRET, **changes)


def signed(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, tokens._jwt_key(secret), algorithm=tokens.ALGORITHM)


def refusal(token: str, using: Settings | None = None) -> str:
    with pytest.raises(AuthRequired) as raised:
        read_token(using or settings(), token)
    return str(raised.value)


def test_a_token_reads_as_its_user_every_time():
    token = issue_token(settings(), 42, "user")["access_token"]
    assert [read_token(settings(), token) for _ in range(3)] == [42, 42, 42]


def test_a_token_read_while_valid_is_refused_once_it_expires(monkeypatch):
    expires = int(time.time()) + 60
    token = signed({"sub": "7", "type": "access", "exp": expires})
    assert read_token(settings(), token) == 7  # verified, and remembered
    # The clock seam (shared.clock) moved past the expiry: the remembered token is refused.
    later = datetime.fromtimestamp(expires, UTC)
    monkeypatch.setattr(tokens, "utcnow", lambda: later)
    assert refusal(token) == "Token expired"


def test_an_expired_token_is_refused_on_first_sight():
    assert refusal(signed({"sub": "7", "type": "access", "exp": int(time.time()) - 1})) == (
        "Token expired"
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "7", "type": "refresh", "exp": 4102444800},
        {"sub": "x", "type": "access", "exp": 4102444800},
        {"sub": "7", "type": "access"},  # no expiry
        {"sub": "7", "type": "access", "exp": "soon"},
    ],
)
def test_tokens_that_are_not_valid_access_tokens_are_refused(claims):
    assert refusal(signed(claims)) == "Invalid token"


def test_a_token_signed_with_another_key_is_refused_and_a_fallback_key_still_reads():
    claims = {"sub": "5", "type": "access", "exp": 4102444800}
    old = signed(claims, secret="the-previous-secret-0123456789abc")
    assert refusal(old) == "Invalid token"
    rotated = settings(secret_key_fallbacks=["the-previous-secret-0123456789abc"])
    assert read_token(rotated, old) == 5
    # Remembered for the rotated keys only: the current key alone still refuses it.
    assert refusal(old) == "Invalid token"


def test_garbage_is_refused():
    assert refusal("not.a.token") == "Invalid token"
