"""The two paging styles, as they grew historically, with their bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import ValidationFailed

VIDEOS_LIMIT_DEFAULT, VIDEOS_LIMIT_MAX = 50, 500
ARTISTS_PER_PAGE_DEFAULT, ARTISTS_PER_PAGE_MAX = 50, 200


def int_arg(args: Mapping[str, str], name: str, default: int, lo: int, hi: int | None) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be an integer") from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ValidationFailed(f"{name} must be {bound}")
    return value


@dataclass(frozen=True)
class LimitOffset:
    limit: int
    offset: int

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> LimitOffset:
        return cls(
            limit=int_arg(args, "limit", VIDEOS_LIMIT_DEFAULT, 1, VIDEOS_LIMIT_MAX),
            offset=int_arg(args, "offset", 0, 0, None),
        )

    def envelope(self, key: str, items: list[Any], total: int) -> dict[str, Any]:
        return {
            key: items,
            "count": len(items),
            "total": total,
            "offset": self.offset,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class PageNumber:
    page: int
    per_page: int

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> PageNumber:
        return cls(
            page=int_arg(args, "page", 1, 1, None),
            per_page=int_arg(args, "per_page", ARTISTS_PER_PAGE_DEFAULT, 1, ARTISTS_PER_PAGE_MAX),
        )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def envelope(self, key: str, items: list[Any], total: int) -> dict[str, Any]:
        pages = (total + self.per_page - 1) // self.per_page
        return {
            key: items,
            "count": len(items),
            "total": total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": pages,
        }
