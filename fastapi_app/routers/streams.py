"""Streams: the twins of legacy_flask/blueprints/media.py."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["media"])
