"""What the FastAPI side holds for its lifetime: settings, the async engine, the codec,
the metadata client."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth.session_cookie import SessionCookieCodec
from shared.clients.metadata import AsyncMetadataClient
from shared.config import Settings
from shared.db.engine import async_session_factory, create_async_engine


@dataclass
class Modern:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cookies: SessionCookieCodec
    metadata: AsyncMetadataClient

    @classmethod
    def create(cls, settings: Settings) -> Modern:
        """Everything made from the settings; the pools open on first use, on the loop
        that serves the app (never at import or construction)."""
        engine = create_async_engine(settings)
        key = settings.metadata_api_key
        return cls(
            settings=settings,
            engine=engine,
            sessions=async_session_factory(engine),
            cookies=SessionCookieCodec(settings),
            metadata=AsyncMetadataClient(
                settings.metadata_base_url,
                settings.metadata_timeout_s,
                api_key=key.get_secret_value() if key is not None else None,
                max_concurrency=settings.metadata_max_concurrency,
            ),
        )

    async def aclose(self) -> None:
        """Release the pools (database, provider) on the loop that used them."""
        await self.metadata.aclose()
        await self.engine.dispose()
