"""The legacy app serves exactly the contract's routes, each at the manifest's auth level."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ruamel.yaml import YAML

from gateway.cli import main
from gateway.routes import every_route

MANIFEST = Path(__file__).resolve().parent.parent / "migration_status.yaml"


def legacy_manifest(path: Path) -> Path:
    """A copy of the committed manifest at `path` with every route owned by flask: the
    state before the migration, whatever has been rolled out since."""
    from gateway import manifest as mf

    shutil.copy(MANIFEST, path)
    with mf.locked(path):
        mf.set_owners(path, {e.key: "flask" for e in mf.load(path).entries})
    return path


def manifest_routes() -> dict[str, str]:
    data = YAML(typ="safe").load(MANIFEST.read_text())
    return {entry["route"]: entry["auth"] for entry in data["routes"]}


def test_app_routes_are_exactly_the_manifest(flask_app):
    declared = {route.key for route in every_route(flask_app)}
    assert declared == set(manifest_routes())


def test_every_route_enforces_the_manifest_auth_level(flask_app):
    expected = manifest_routes()
    for route in every_route(flask_app):
        assert route.auth == expected[route.key], route.key


def test_figway_routes_prints_one_route_per_line(settings, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    assert main(["routes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert set(lines) == set(manifest_routes()) and len(lines) == len(set(lines))
    assert "PUT /api/settings/bulk" in lines and "GET /static/<path:filename>" in lines


def test_figway_routes_json(settings, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    assert main(["routes", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {f"{r['method']} {r['path']}": r["auth"] for r in rows} == manifest_routes()


def test_every_fastapi_twin_enforces_the_manifest_auth_level(settings):
    from fastapi_app import create_fastapi_app
    from fastapi_app.deps import auth_level
    from gateway.manifest import twin_key
    from shared.web.methods import flat_routes

    expected = {twin_key(k): v for k, v in manifest_routes().items()}
    twins = 0
    for route in flat_routes(create_fastapi_app(settings).routes):
        dependant = getattr(route, "dependant", None)
        for method in sorted(getattr(route, "methods", None) or ()):
            key = twin_key(f"{method} {route.path}")
            if key not in expected:
                continue  # FastAPI-only routes (/docs, /openapi.json)
            twins += 1
            assert dependant is not None and auth_level(dependant.dependencies) == expected[key]
    assert twins >= 3
