"""Phase 2: thumbnails."""

from __future__ import annotations

from gateway.parity.scenario import Scenario

SCENARIOS: tuple[Scenario, ...] = ()
