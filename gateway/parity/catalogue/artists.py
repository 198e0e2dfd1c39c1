"""Phase 3: artists."""

from __future__ import annotations

from gateway.parity.scenario import Scenario

SCENARIOS: tuple[Scenario, ...] = ()
