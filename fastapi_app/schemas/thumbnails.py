"""Thumbnails: the upload answers the artist as shared.serializers.artist_json makes it
(services.media.set_artist_thumbnail), with no path of the stored file."""

from __future__ import annotations

from fastapi_app.schemas.artists import ArtistOut


class ArtistThumbnailOut(ArtistOut):
    """The artist whose image was replaced, with its video count."""
