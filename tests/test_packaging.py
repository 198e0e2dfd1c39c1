"""`pip install figway` is the gateway, the CLI and the parity tool; the demo's own
dependencies are its `demo` extra, and the CLI names that extra when one is missing."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from gateway.cli import DEMO_MODULES

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())


def _names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements
    }


def test_the_demo_extra_and_the_cli_list_agree():
    demo = _names(PYPROJECT["project"]["optional-dependencies"]["demo"])
    installed = packages_distributions()
    # Every import name the CLI knows comes from a distribution of the extra ...
    for module in DEMO_MODULES:
        dists = {d.lower().replace("_", "-") for d in installed.get(module, [])}
        assert dists & demo, f"{module} ({dists}) is not installed by the demo extra"
    # ... and every distribution of the extra is known by one of its import names.
    known = {d.lower().replace("_", "-") for m in DEMO_MODULES for d in installed.get(m, [])}
    assert demo <= known, f"the CLI does not know the import names of {demo - known}"


def test_flask_is_the_legacy_extra_and_nothing_else_needs_it():
    """The end of the migration runs without Flask: figway's own dependencies and the
    extras the Flask-free stage installs (demo, testing) name neither flask nor werkzeug."""
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    assert {"flask", "flask-socketio"} <= _names(extras["legacy"])
    for requirements in (project["dependencies"], extras["demo"], extras["testing"]):
        assert not _names(requirements) & {"flask", "werkzeug", "flask-socketio"}, requirements


def test_the_shared_templates_and_static_files_are_package_data():
    """A wheel carries every page template and static file, now under shared/web (both
    sides read them there), matched as setuptools matches package-data: glob, recursive."""
    shared = Path(__file__).parents[1] / "shared"
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["shared"]
    packaged = {p for pattern in patterns for p in shared.glob(pattern) if p.is_file()}
    web = shared / "web"
    pages = {p for d in ("templates", "static") for p in (web / d).rglob("*") if p.is_file()}
    assert any(p.suffix == ".html" for p in pages) and any(p.suffix == ".js" for p in pages)
    assert pages - packaged == set()
    # Nothing is left where only Flask would find it.
    assert "legacy_flask" not in PYPROJECT["tool"]["setuptools"]["package-data"]
    legacy = Path(__file__).parents[1] / "legacy_flask"
    assert not (legacy / "templates").exists() and not (legacy / "static").exists()


def test_the_dashboards_template_and_static_files_are_package_data():
    """A wheel carries /_figway/'s page: its templates and static files under gateway/."""
    gateway = Path(__file__).parents[1] / "gateway"
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["gateway"]
    packaged = {p for pattern in patterns for p in gateway.glob(pattern) if p.is_file()}
    dashboard = gateway / "dashboard"
    files = {p for d in ("templates", "static") for p in (dashboard / d).rglob("*") if p.is_file()}
    assert {p.suffix for p in files} >= {".html", ".css", ".js"}
    assert files - packaged == set()
