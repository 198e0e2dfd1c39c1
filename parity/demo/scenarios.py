"""The catalogue: scenarios per migrated route, one module per resource under catalogue/.
Fields that may differ are declared there, per scenario, and nowhere else."""

from __future__ import annotations

from parity.demo.catalogue import (
    admin,
    artists,
    downloads,
    foundation,
    metadata,
    pages,
    playlists,
    static,
    streams,
    thumbnails,
    videos,
)
from parity.demo.scenario import Scenario

CATALOGUE: tuple[Scenario, ...] = (
    *foundation.SCENARIOS,
    *admin.SCENARIOS,
    *metadata.SCENARIOS,
    *artists.SCENARIOS,
    *videos.SCENARIOS,
    *playlists.SCENARIOS,
    *streams.SCENARIOS,
    *thumbnails.SCENARIOS,
    *downloads.SCENARIOS,
    *pages.SCENARIOS,
    *static.SCENARIOS,
)


def scenarios_for(routes: set[str] | None = None) -> list[Scenario]:
    return [s for s in CATALOGUE if routes is None or s.route in routes]
