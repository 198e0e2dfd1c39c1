"""figway's parity harness: does a FastAPI twin answer like its Flask original?

A tool, never a part of the server: `figway verify` runs scenarios and records verdicts;
the flip path only reads those verdicts (gateway.changes.unverified). What a user
imports is the scenario format; it loads no app.
"""

from parity.scenario import Scenario, Step, Suite

__all__ = ["Scenario", "Step", "Suite"]
