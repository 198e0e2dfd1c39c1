"""One blueprint per resource; the app registers them in this order."""

from __future__ import annotations

from flask import Blueprint

from legacy_flask.blueprints import (
    admin,
    artists,
    auth,
    downloads,
    health,
    media,
    metadata,
    pages,
    playlists,
    settings,
    users,
    videos,
)

BLUEPRINTS: tuple[Blueprint, ...] = (
    health.bp,
    auth.bp,
    users.bp,
    settings.bp,
    admin.bp,
    metadata.bp,
    artists.bp,
    videos.bp,
    downloads.bp,
    media.bp,
    playlists.bp,
    pages.bp,
)
