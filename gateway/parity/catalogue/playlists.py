"""Phase 3: playlists."""

from __future__ import annotations

from gateway.parity.scenario import Scenario

SCENARIOS: tuple[Scenario, ...] = ()
