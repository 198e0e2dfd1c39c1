"""The two paging styles, as they grew historically, with their bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.db.base import MAX_ID
from shared.errors import ValidationFailed

VIDEOS_LIMIT_DEFAULT, VIDEOS_LIMIT_MAX = 50, 500
ARTISTS_PER_PAGE_DEFAULT, ARTISTS_PER_PAGE_MAX = 50, 200
# Offsets go to the database as 64-bit integers (past that: an OverflowError, a 500), and
# no table holds more rows than it has ids. A page number is bounded so that its offset,
# at the largest page size, is still such an offset.
OFFSET_MAX = MAX_ID
PAGE_MAX = OFFSET_MAX // ARTISTS_PER_PAGE_MAX + 1


def int_arg(args: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be an integer") from None
    if not lo <= value <= hi:
        raise ValidationFailed(f"{name} must be between {lo} and {hi}")
    return value


@dataclass(frozen=True)
class LimitOffset:
    limit: int
    offset: int

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> LimitOffset:
        return cls(
            limit=int_arg(args, "limit", VIDEOS_LIMIT_DEFAULT, 1, VIDEOS_LIMIT_MAX),
            offset=int_arg(args, "offset", 0, 0, OFFSET_MAX),
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
            page=int_arg(args, "page", 1, 1, PAGE_MAX),
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
