"""What a gateway, its admin API and `figway status` load: figway serves someone else's app
without the demo's apps, the parity scenarios or the demo's heavy dependencies, and a
glance at the demo's status builds neither of its apps. Each probe runs in a fresh
interpreter, so what it finds in sys.modules is what it loaded."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from gateway.cli import DEMO_MODULES
from tests.gateway.test_admin_auth import MANIFEST, TOKEN
from tests.servers import base_env
from tests.test_contract import legacy_manifest

ROOT = Path(__file__).resolve().parents[2]
# Imported by Starlette and FastAPI themselves whenever installed (form parsing,
# ORJSONResponse): their presence says nothing of what figway imports.
BY_FASTAPI = {"multipart", "python_multipart", "orjson"}
# The demo's two apps and what its `demo` extra installs, and the parity tool.
HEAVY = ("fastapi_app", "legacy_flask", *sorted(DEMO_MODULES - BY_FASTAPI))
DEMO_ONLY = (*HEAVY, "parity", "gateway.parity")


def loaded(
    script: str, env: dict[str, str], cwd: Path = ROOT, names: tuple[str, ...] = DEMO_ONLY
) -> list[str]:
    """Run `script`, then answer which of `names` (or their submodules) it imported."""
    probe = textwrap.dedent(script) + textwrap.dedent(
        f"""
        import json, sys
        names = {names!r}
        print("LOADED", json.dumps(sorted(
            m for m in sys.modules if any(m == n or m.startswith(n + ".") for n in names)
        )))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED ")][-1]
    found: list[str] = json.loads(line.removeprefix("LOADED "))
    return found


def test_a_gateway_for_another_app_and_its_admin_api_load_nothing_of_the_demo(tmp_path):
    (tmp_path / "routes.yaml").write_text(MANIFEST)
    env = base_env(tmp_path, FOREIGN_APP_DIR=str(tmp_path), FIGWAY_ADMIN_TOKEN=TOKEN)
    script = f"""
        from starlette.testclient import TestClient

        import gateway.app
        from gateway.state.migrate import upgrade
        from tests import foreign_app

        gateway = foreign_app.make_gateway()
        upgrade(gateway.settings.state_url)
        auth = {{"Authorization": "Bearer {TOKEN}"}}
        with TestClient(gateway, base_url="http://127.0.0.1") as client:
            assert client.get("/_figway/status", headers=auth).status_code == 200
            assert client.get("/items").headers["x-served-by"] == "flask"
            # Refused by name without a verdict: the server never runs scenarios.
            flip = {{"route": "GET /items", "to": "fastapi"}}
            refused = client.post("/_figway/flip", json=flip, headers=auth)
            assert refused.status_code == 409, refused.text
            assert "GET /items: never verified" in refused.json()["error"]
            flipped = client.post("/_figway/flip", json={{**flip, "force": True}}, headers=auth)
            assert flipped.status_code == 200, flipped.text
            history = client.get("/_figway/history", headers=auth)
            assert len(history.json()["history"]) == 1, history.text
            assert client.get("/items").json()["side"] == "fastapi"
            # The dashboard too: the page, its figures, its static files.
            page = client.get("/_figway/", headers=auth)
            assert page.status_code == 200 and "GET /items" in page.text, page.status_code
            assert client.get("/_figway/figures", headers=auth).status_code == 200
            assert client.get("/_figway/static/dashboard.js").status_code == 200
        """
    assert loaded(script, env) == []


def test_figway_status_for_the_demo_builds_neither_app(tmp_path):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    env = base_env(tmp_path, FIGWAY_MANIFEST=str(manifest))
    script = """
        from gateway.cli import main

        assert main(["status", "--routes"]) == 0
        """
    assert loaded(script, env, cwd=tmp_path, names=HEAVY) == []
    # --check builds both apps, and checks the manifest against them.
    check = "from gateway.cli import main\nassert main(['status', '--check']) == 0\n"
    assert {"legacy_flask", "fastapi_app"} <= set(loaded(check, env, cwd=tmp_path, names=HEAVY))


def parity_imports(path: Path) -> list[tuple[int, bool]]:
    """(line, at module level) of each import of the parity package in a source file."""
    tree = ast.parse(path.read_text(), str(path))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(n == "parity" or n.startswith("parity.") for n in names):
            found.append((node.lineno, id(node) in top))
    return found


def test_gateway_imports_parity_only_in_the_cli_parser_and_never_at_import():
    found = {
        str(path.relative_to(ROOT)): imports
        for path in sorted((ROOT / "gateway").rglob("*.py"))
        if (imports := parity_imports(path))
    }
    assert set(found) == {"gateway/cli.py"}, found
    assert all(not at_top for _, at_top in found["gateway/cli.py"])
    assert not (ROOT / "gateway" / "parity").exists()  # the old home, and its cycle


def test_the_fastapi_side_serves_files_without_flask_or_werkzeug(tmp_path):
    """The end of Flask: the twins build (every router imported) and answer files
    (conditions, ranges, 404s) with neither flask nor werkzeug ever imported."""
    (tmp_path / "var").mkdir()
    script = """
        from starlette.testclient import TestClient
        from fastapi_app import create_fastapi_app

        with TestClient(create_fastapi_app()) as client:
            css = client.get("/static/css/app.css", headers={"Range": "bytes=0-9"})
            assert css.status_code == 206 and len(css.content) == 10, css.status_code
            etag = {"If-None-Match": css.headers["etag"]}
            assert client.get("/static/css/app.css", headers=etag).status_code == 304
            assert client.get("/static/%2e%2e/pages.py").status_code == 404
        """
    env = base_env(tmp_path)
    assert loaded(script, env, cwd=tmp_path, names=("flask", "werkzeug")) == []
