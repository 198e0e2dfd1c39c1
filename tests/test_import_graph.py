"""The parity package is a tool, never a part of the server (issue 14): no module a
running gateway loads imports it, and gateway/ imports it in one place only, the CLI's
parser (for `figway verify` and the flip commands' check)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.cli import main
from tests import foreign_app
from tests.servers import base_env

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "import-graph-admin-token-0123456789"
PARITY_MODULES = (
    "sorted(m for m in sys.modules if m == 'parity' or m.startswith(('parity.', 'gateway.parity')))"
)


def test_a_gateway_for_another_app_serves_and_flips_without_the_parity_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Build another app's gateway (create_gateway), serve through it, and refuse then
    force a flip through its admin API, in a fresh process: parity is never imported.
    (tests/gateway/test_flip_path.py does the same for the demo's gateway.)"""
    monkeypatch.setenv(foreign_app.DIR_VAR, str(tmp_path))
    monkeypatch.delenv("FIGWAY_APP", raising=False)
    manifest = tmp_path / "routes.yaml"
    assert main(["init", "--app", "tests.foreign_app:legacy", "--out", str(manifest)]) == 0
    assert main(["--app", "tests.foreign_app:make_gateway", "db", "upgrade"]) == 0
    script = textwrap.dedent(
        f"""
        import sys
        from starlette.testclient import TestClient
        from tests.foreign_app import make_gateway

        auth = {{"Authorization": "Bearer {TOKEN}"}}
        with TestClient(make_gateway(), base_url="http://127.0.0.1") as client:
            assert client.get("/hello/3").headers["x-served-by"] == "flask"
            flip = {{"route": "GET /items", "to": "fastapi"}}
            refused = client.post("/_figway/flip", json=flip, headers=auth)
            assert refused.status_code == 409, refused.text
            assert "GET /items: never verified" in refused.json()["error"]
            forced = client.post("/_figway/flip", json={{**flip, "force": True}}, headers=auth)
            assert forced.status_code == 200, forced.text
            assert client.get("/items").headers["x-served-by"] == "fastapi"
        print("IMPORTED", {PARITY_MODULES})
        """
    )
    env = base_env(tmp_path, FIGWAY_ADMIN_TOKEN=TOKEN)
    env[foreign_app.DIR_VAR] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, text=True, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "IMPORTED []"


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
