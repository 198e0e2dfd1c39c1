"""The scenario format for your own routes: what `figway verify --scenarios MODULE:ATTR`
runs. See parity/README.md ("Writing parity scenarios for your own routes").

Plain frozen dataclasses, nothing imported at import time beyond the typing: a suite
module can be imported (and its file fingerprinted) without building any app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.app import Gateway

# (workdir, manifest) -> a gateway over fresh state kept under workdir, routing by that
# manifest file (a copy of yours with the scenario's route owned by one side).
GatewayFactory = Callable[[Path, Path], "Gateway"]
# workdir -> what the request left behind there (rows by table, say), compared between
# the sides like JSON under "rows.<key>".
StateReader = Callable[[Path], Mapping[str, Any]]


@dataclass(frozen=True)
class Step:
    """A request made before the scenario's own, on the same client (cookies kept): a
    login, or the rows the scenario needs made through the app itself."""

    method: str
    path: str
    _: KW_ONLY
    json: Any = None
    form: dict[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """One request, answered once by each side; the answers must match."""

    route: str  # the manifest key, "METHOD PATH"; the method requested comes from it
    name: str
    path: str  # the concrete path requested
    _: KW_ONLY
    json: Any = None
    form: dict[str, str] | None = None  # a urlencoded form body
    raw: bytes | None = None  # a body sent as is (content type: headers, else JSON)
    headers: Mapping[str, str] = field(default_factory=dict)
    before: tuple[Step, ...] = ()
    # JSON paths ("created", "items.*.id", "rows.posts.*.at") allowed to differ.
    volatile: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from gateway.manifest import normalize_key  # here: importing the format stays light

        if sum(body is not None for body in (self.json, self.form, self.raw)) > 1:
            raise ValueError(f"{self.label}: one body at most (json, form or raw)")
        if " " not in self.route.strip():
            raise ValueError(f"{self.label}: route is the manifest key, 'METHOD PATH'")
        # As the manifest spells it ("get  /x" is "GET /x"): scenarios are found by route.
        object.__setattr__(self, "route", normalize_key(self.route))

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    @property
    def label(self) -> str:
        return f"{self.route} [{self.name}]"


@dataclass(frozen=True)
class Suite:
    """Your scenarios and how to build a gateway for them: what --scenarios names."""

    gateway: GatewayFactory
    scenarios: tuple[Scenario, ...]
    state: StateReader | None = None
