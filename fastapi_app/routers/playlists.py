"""Playlists: the twins of legacy_flask/blueprints/playlists.py."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["playlists"])
