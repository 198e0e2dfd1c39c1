"""The legacy app serves exactly the contract's routes, each at the manifest's auth level."""

from __future__ import annotations

import json
from pathlib import Path

from ruamel.yaml import YAML

from gateway.cli import main
from gateway.routes import flask_routes

MANIFEST = Path(__file__).resolve().parent.parent / "migration_status.yaml"


def manifest_routes() -> dict[str, str]:
    data = YAML(typ="safe").load(MANIFEST.read_text())
    return {entry["route"]: entry["auth"] for entry in data["routes"]}


def test_app_routes_are_exactly_the_manifest(app):
    declared = {route.key for route in flask_routes(app)}
    assert declared == set(manifest_routes())


def test_every_route_enforces_the_manifest_auth_level(app):
    expected = manifest_routes()
    for route in flask_routes(app):
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
