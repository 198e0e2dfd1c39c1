"""Which app a `figway` command works on: `--app MODULE:ATTR` (or FIGWAY_APP), else the demo.

ATTR names the gateway `create_gateway` returns, or a zero-argument factory returning it
(`figway init` and `figway routes` also take the Flask app itself). The module is imported
with the current directory first on sys.path, as `flask --app` and `uvicorn` do.

`--scenarios MODULE:ATTR` (or FIGWAY_SCENARIOS) names the parity Suite `figway verify`
and the flip path run (the demo's own harness by default for the demo). It is loaded by
name, only when a command asks for it: no module of gateway/ imports the parity package.

Nothing heavy is imported here: the demo's apps are built only when a command asks for
their routes or twins.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from gateway.app import Gateway
    from shared.config import Settings

ENV_VAR = "FIGWAY_APP"
SCENARIOS_VAR = "FIGWAY_SCENARIOS"
# The demo's own harness (parity/demo), run when --scenarios names no other.
DEMO_SUITE = "parity.demo:SUITE"
SCENARIOS_DOCS = '"Writing parity scenarios for your own routes" in parity/README.md'


class TargetError(Exception):
    """The --app spec cannot be resolved; the message says what is wrong."""


def app_spec(explicit: str | None, env_var: str = ENV_VAR) -> str | None:
    """--app wins over FIGWAY_APP (--scenarios over FIGWAY_SCENARIOS, given `env_var`);
    None (or empty) means the demo's."""
    spec = explicit if explicit is not None else os.environ.get(env_var)
    if spec is None:
        return None
    return spec.strip() or None


def load_object(spec: str, option: str = "--app") -> Any:
    """Import MODULE and return ATTR (a dotted path inside the module is allowed)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"{option} {spec!r}: expected MODULE:ATTR, e.g. myproject.web:gateway")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise TargetError(f"{option} {spec!r}: no module named {module_name!r}") from exc
        raise
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(
                f"{option} {spec!r}: module {module_name!r} has no {attr!r}"
            ) from None
    return obj


def _is_gateway(obj: object) -> bool:
    from gateway.app import Gateway

    return isinstance(obj, Gateway)


def _is_flask(obj: object) -> bool:
    # Without Flask imported, nothing is a Flask app: asking must not import it (a gateway
    # with every route on FastAPI runs where Flask is not installed).
    flask = sys.modules.get("flask")
    return flask is not None and isinstance(obj, flask.Flask)


def call_factory(spec: str, obj: Any, wanted: str, option: str = "--app") -> Any:
    """What a zero-argument factory `obj` returns (TargetError naming `wanted` if it is
    none): --app and --scenarios both take the object or such a factory."""
    if not callable(obj) or inspect.isclass(obj):
        raise TargetError(f"{option} {spec!r}: {type(obj).__name__} is not {wanted}")
    try:
        inspect.signature(obj).bind()
    except (TypeError, ValueError):
        raise TargetError(
            f"{option} {spec!r}: {wanted} or a factory taking no arguments is expected"
        ) from None
    return obj()


def unwrap_legacy(gateway: Gateway) -> Any:
    """The legacy app the gateway was made with (Flask or any WSGI app)."""
    return gateway.legacy_app


class Target:
    """The gateway's apps, manifest and settings, built on first use."""

    def __init__(self, spec: str | None, scenarios: str | None = None) -> None:
        self.spec = spec
        self.scenarios_spec = scenarios  # --scenarios; None: the demo's, for the demo
        self._owned: list[Callable[[], None]] = []

    @property
    def is_demo(self) -> bool:
        return self.spec is None

    @property
    def name(self) -> str:
        return self.spec or "the demo app"

    # --- the gateway --------------------------------------------------------------------

    @cached_property
    def resolved(self) -> Any:
        """What --app names, its factory called: a gateway, or (init, routes) a Flask app."""
        if self.spec is None:
            raise TargetError("the demo app has no prebuilt gateway")
        obj = load_object(self.spec)
        if _is_gateway(obj) or _is_flask(obj):
            return obj
        obj = call_factory(self.spec, obj, "a gateway (what create_gateway returns)")
        if not (_is_gateway(obj) or _is_flask(obj)):
            raise TargetError(
                f"--app {self.spec!r}: the factory returned {type(obj).__name__}, "
                "not a gateway (what create_gateway returns)"
            )
        return obj

    @property
    def gateway(self) -> Gateway:
        """A foreign app's gateway (ManifestError if its manifest is invalid)."""
        obj = self.resolved
        if not _is_gateway(obj):
            raise TargetError(
                f"--app {self.spec!r} is a Flask app; this command needs the gateway "
                "(what create_gateway returns, or a factory returning it); "
                "`figway init` writes the manifest it needs"
            )
        gateway: Gateway = obj
        return gateway

    @cached_property
    def settings(self) -> Settings:
        if self.spec is None:
            from shared.config import Settings

            return Settings()
        return self.gateway.settings

    @cached_property
    def manifest_path(self) -> Path:
        if self.spec is None:
            return self.settings.manifest
        return Path(self.gateway.watcher.path)

    # --- the two sides ------------------------------------------------------------------

    def flask_app(self) -> Flask | None:
        """The legacy Flask app (None when the legacy side is another WSGI app)."""
        if self.spec is None:
            from legacy_flask import create_app

            app = create_app(self.settings)
            self._owned.append(app.extensions["figway"].close)
            return app
        obj = self.resolved
        if _is_flask(obj):
            flask_app: Flask = obj
            return flask_app
        legacy = unwrap_legacy(obj)
        return legacy if _is_flask(legacy) else None

    def legacy_keys(self) -> list[str] | None:
        """`METHOD PATH` of every legacy route; None when they cannot be known."""
        from gateway.routes import every_route

        app = self.flask_app()
        return None if app is None else [r.key for r in every_route(app)]

    def modern_app(self) -> Any:
        """The FastAPI (or any ASGI) app the twins live in."""
        if self.spec is None:
            from fastapi_app import create_fastapi_app

            return create_fastapi_app(self.settings)
        return self.gateway.modern

    def twins(self) -> list[str] | None:
        """The FastAPI app's routes (None: not a routable ASGI app, nothing to check)."""
        from gateway.app import modern_route_keys

        if self.spec is None:
            from fastapi_app import create_fastapi_app

            return modern_route_keys(create_fastapi_app(self.settings).routes)
        gateway = self.gateway
        if gateway.modern_keys is not None:
            return list(gateway.modern_keys)
        routes = getattr(gateway.modern, "routes", None)
        return None if routes is None else modern_route_keys(routes)

    # --- the parity scenarios -----------------------------------------------------------

    @property
    def suite_spec(self) -> str:
        """MODULE:ATTR of the parity scenarios; TargetError when another app names none."""
        if self.scenarios_spec is not None:
            return self.scenarios_spec
        if self.is_demo:
            return DEMO_SUITE
        raise TargetError(
            f"--app {self.spec} has no parity scenarios: --scenarios MODULE:ATTR (or "
            f"${SCENARIOS_VAR}) names the Suite of them; see {SCENARIOS_DOCS}"
        )

    def suite(self) -> Any:
        """What suite_spec names (a parity Suite, or the demo's harness), imported now: by
        `figway verify` and the CLI's flip path only, never by a server."""
        return load_object(self.suite_spec, "--scenarios")

    def close(self) -> None:
        while self._owned:
            self._owned.pop()()
