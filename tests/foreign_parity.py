"""Parity scenarios for tests/foreign_app.py, in the format a user writes (parity/README.md):
the twin of GET /hello/<int:n> answers like its original once "side" (which side
answered) is declared volatile; the one of GET /items does not, on purpose.

tests/test_parity_suite.py runs a copy of this file as `--scenarios MODULE:SUITE`."""

from __future__ import annotations

from pathlib import Path

from gateway.app import Gateway, create_gateway
from parity import Scenario, Step, Suite
from tests import foreign_app


def make_gateway(workdir: Path, manifest: Path) -> Gateway:
    return create_gateway(
        foreign_app.settings(workdir),
        legacy=foreign_app.legacy,
        modern=foreign_app.modern,
        manifest=manifest,
    )


SUITE = Suite(
    gateway=make_gateway,
    scenarios=(
        Scenario("GET /hello/<int:n>", "echoes n", "/hello/7", volatile=("side",)),
        Scenario(
            "GET /hello/<int:n>",
            "after a look at the about page",
            "/hello/0",
            before=(Step("GET", "/about"),),
            volatile=("side",),
        ),
        Scenario("GET /items", "lists none", "/items"),
    ),
)
