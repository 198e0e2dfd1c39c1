"""What a gateway, its admin API and `figway status` load: figway serves someone else's app
without the demo's apps, the parity scenarios or the demo's heavy dependencies, and a
glance at the demo's status builds neither of its apps. Each probe runs in a fresh
interpreter, so what it finds in sys.modules is what it loaded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.gateway.test_admin_auth import MANIFEST, TOKEN
from tests.servers import base_env
from tests.test_contract import legacy_manifest

ROOT = Path(__file__).resolve().parents[2]
# The demo's two apps, its download and image tooling, its queue, the parity scenarios.
DEMO_ONLY = ("fastapi_app", "legacy_flask", "yt_dlp", "PIL", "celery", "parity", "gateway.parity")
# The CLI loads the parser of `figway verify` (gateway.parity.cli), never the scenarios.
HEAVY = ("fastapi_app", "legacy_flask", "yt_dlp", "PIL", "celery")


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
            flip = {{"route": "GET /items", "to": "fastapi", "force": True}}
            flipped = client.post("/_figway/flip", json=flip, headers=auth)
            assert flipped.status_code == 200, flipped.text
            history = client.get("/_figway/history", headers=auth)
            assert len(history.json()["history"]) == 1, history.text
            assert client.get("/items").json()["side"] == "fastapi"
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
