"""Roles, weakest first, and the auth levels a route can require."""

from __future__ import annotations

from typing import Literal

# Weakest first. Here, not beside the User model: the gateway's manifest checks read the
# auth levels without loading the demo's models.
ROLES = ("readonly", "user", "manager", "admin")
Role = Literal["readonly", "user", "manager", "admin"]
AuthLevel = Literal["public", "readonly", "user", "manager", "admin"]
AUTH_LEVELS: tuple[str, ...] = ("public", *ROLES)


def role_rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


def has_role(role: str, required: str) -> bool:
    """True when `role` is at least `required` (public admits everyone)."""
    if required == "public":
        return True
    return role_rank(role) >= role_rank(required)
