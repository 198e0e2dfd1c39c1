"""What the FastAPI side holds for its lifetime: settings, the async engine, the codec."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth.session_cookie import SessionCookieCodec
from shared.config import Settings


@dataclass
class Modern:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cookies: SessionCookieCodec
