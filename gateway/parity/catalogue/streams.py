"""Phase 2: streams."""

from __future__ import annotations

from gateway.parity.scenario import Scenario

SCENARIOS: tuple[Scenario, ...] = ()
