"""The legacy session's sliding expiry, kept on the twins (shared.web.sliding_session):
Flask re-signs a permanent session cookie on every response, and so do they."""

from __future__ import annotations

from shared.web.sliding_session import SlidingSession

__all__ = ["SlidingSession"]
