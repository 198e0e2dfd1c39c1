"""Videos: the twins of legacy_flask/blueprints/videos.py."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["videos"])
