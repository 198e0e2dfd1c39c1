"""Artists: the twins of legacy_flask/blueprints/artists.py."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["artists"])
