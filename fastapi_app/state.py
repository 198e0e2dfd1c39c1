"""What the FastAPI side holds for its lifetime: settings, the async engine, the codec,
the metadata client, the download jobs (and their reaper), the page templates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import anyio.to_thread
from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncEngine

from fastapi_app.pages import templates
from shared import tracing
from shared.auth.session_cookie import SessionCookieCodec
from shared.clients.metadata import AsyncMetadataClient
from shared.config import Settings
from shared.db.engine import create_async_engine
from shared.jobs.runners import DownloadJobs

log = logging.getLogger("figway.downloads")


@dataclass
class Modern:
    settings: Settings
    engine: AsyncEngine
    cookies: SessionCookieCodec
    metadata: AsyncMetadataClient
    downloads: DownloadJobs
    # The shared templates, loaded once (fastapi_app.pages.templates).
    pages: Environment = field(default_factory=templates)
    _reaper: asyncio.Task[None] | None = field(default=None, init=False)

    @classmethod
    def create(cls, settings: Settings) -> Modern:
        """Everything made from the settings; the pools open on first use, on the loop
        that serves the app (never at import or construction)."""
        engine = create_async_engine(settings)
        key = settings.metadata_api_key
        return cls(
            settings=settings,
            engine=engine,
            cookies=SessionCookieCodec(settings),
            metadata=AsyncMetadataClient(
                settings.metadata_base_url,
                settings.metadata_timeout_s,
                api_key=key.get_secret_value() if key is not None else None,
                max_concurrency=settings.metadata_max_concurrency,
                tracer=tracing.tracer_for(settings),
            ),
            downloads=DownloadJobs.create(settings),
        )

    def start(self) -> None:
        """At startup, on the serving loop: the reaper, in every process that serves."""
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever(), name="download-reaper")

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.download_reaper_interval_s)
            try:
                await anyio.to_thread.run_sync(self.downloads.reap)
            except Exception:  # the database may be away for a while: try again next time
                log.warning("download reaper: pass failed", exc_info=True)

    async def aclose(self) -> None:
        """Stop the reaper and this process's downloads, then release the pools (database,
        provider, progress) on the loop that used them."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        await anyio.to_thread.run_sync(self.downloads.close)
        await self.downloads.progress.aclose()
        await self.metadata.aclose()
        await self.engine.dispose()
