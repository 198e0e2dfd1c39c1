"""The end of the migration: with every route on FastAPI, the demo's gateway, built as
`figway serve` builds it, serves with no Flask in the process (nor werkzeug, Flask-SocketIO
or the legacy app); the FastAPI side and shared/ import none of them; a flip back to flask
at run time builds the legacy side then, or is refused when Flask is not installed."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway import manifest as mf
from gateway.app import create_gateway
from gateway.asgi import create_figway
from gateway.legacy_side import LegacyUnavailable
from gateway.target import Target
from shared.config import Settings
from tests import foreign_app
from tests.servers import base_env
from tests.test_contract import MANIFEST

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "operator-token-0123456789abcdef"
FLASK_SIDE = ("flask", "werkzeug", "flask_socketio", "legacy_flask")


def fastapi_manifest(path: Path) -> Path:
    """Every route of the committed manifest (the channel too) on fastapi, at `path`: each
    has a FastAPI twin, the pages included."""
    committed = mf.load(MANIFEST)
    twins = {mf.twin_key(k) for k in Target(None).twins() or ()}
    assert {mf.twin_key(e.key) for e in committed.entries} <= twins
    lines = ["version: 1", "phases:", "  - number: 1", "    name: all", '    milestone: ""']
    lines.append(f"limits: {json.dumps(dict(committed.limits))}")
    lines.append("routes:")
    for entry in committed.entries:
        lines += [
            f"  - route: {json.dumps(entry.key)}",
            "    phase: 1",
            "    owner: fastapi",
            f"    auth: {entry.auth}",
        ]
        if entry.limit is not None:
            lines.append(f"    limit: {json.dumps(entry.limit)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert any(e.method == mf.CHANNEL for e in mf.load(path).entries)
    return path


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The settings of a fresh demo in tmp_path, in this process's environment too."""
    env = base_env(tmp_path, FIGWAY_MANIFEST=str(tmp_path / "migration_status.yaml"))
    for key, value in env.items():
        if key.startswith(("FIGWAY_", "DATABASE_URL", "SECRET_KEY")):
            monkeypatch.setenv(key, value)
    fastapi_manifest(tmp_path / "migration_status.yaml")
    return env


# Run in a fresh interpreter: records which file first imported each module of the Flask
# side (an observer on sys.meta_path that finds nothing itself), builds the gateway as
# `figway serve` does (uvicorn's factory, gateway.asgi:factory), serves a few requests
# in-process, then prints what of the Flask side is loaded and who imported it.
PROBE = """
import json, sys

ROOT = sys.argv[1]
FLASK_SIDE = {flask_side!r}
importers = {{}}


class Observer:
    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top in FLASK_SIDE and top not in importers:
            frame = sys._getframe(1)
            while frame is not None and not (
                frame.f_code.co_filename.startswith(ROOT)
                and "importlib" not in frame.f_code.co_filename
            ):
                frame = frame.f_back
            importers[top] = "?" if frame is None else frame.f_code.co_filename[len(ROOT) + 1 :]
        return None


sys.meta_path.insert(0, Observer())

from starlette.testclient import TestClient

from gateway.asgi import factory

gateway = factory()
served = []
with TestClient(gateway, base_url="http://127.0.0.1") as client:
    for method, path in [
        ("GET", "/api/version"),
        ("HEAD", "/api/version"),
        ("GET", "/api/health"),
        ("GET", "/api/videos/7"),
        ("GET", "/nowhere"),
        ("DELETE", "/api/version"),
        ("GET", "/api/videos/"),
        ("GET", "/login"),
        ("GET", "/videos?status=wanted"),
    ]:
        response = client.request(method, path, follow_redirects=False)
        served.append([method, path, response.status_code, response.headers.get("x-served-by")])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in FLASK_SIDE)
print("RESULT", json.dumps({{"served": served, "loaded": loaded, "importers": importers,
      "built": gateway.legacy.built}}))
"""


def test_the_all_fastapi_gateway_serves_with_no_flask_in_the_process(tmp_path, settings_env):
    env = {**settings_env, "PYTHONPATH": str(ROOT)}
    script = textwrap.dedent(PROBE.format(flask_side=FLASK_SIDE))
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    result = json.loads(line.removeprefix("RESULT "))
    assert result["built"] is False
    for method, path, status, side in result["served"]:
        assert side == "fastapi", (method, path, status)
    statuses = {(m, p): s for m, p, s, _side in result["served"]}
    assert statuses[("GET", "/api/version")] == 200
    assert statuses[("GET", "/nowhere")] == 404
    assert statuses[("DELETE", "/api/version")] == 405
    # The pages too: the login form, and a page's redirect to it.
    assert statuses[("GET", "/login")] == 200
    assert statuses[("GET", "/videos?status=wanted")] == 302
    # Nothing of the Flask side, nor anyone who imported it.
    assert result["importers"] == {}
    assert result["loaded"] == []


def flask_imports(path: Path) -> list[str]:
    """`line: module` of each import of the Flask side in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        found += [f"{node.lineno}: {n}" for n in names if n.split(".")[0] in FLASK_SIDE]
    return found


def test_nothing_under_fastapi_app_or_shared_imports_flask_or_werkzeug():
    offenders = {
        str(path.relative_to(ROOT)): imports
        for top in ("fastapi_app", "shared")
        for path in sorted((ROOT / top).rglob("*.py"))
        if (imports := flask_imports(path))
    }
    assert offenders == {}


def test_the_all_fastapi_gateway_flips_a_route_back_to_flask_and_serves_it(tmp_path, settings_env):
    manifest = tmp_path / "migration_status.yaml"
    gateway = create_figway(Settings())
    assert not gateway.legacy.built
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        assert client.get("/api/version").headers["x-served-by"] == "fastapi"
        # The committed manifest (its phases too: the legacy app's routes are checked once
        # it is built), every route still on fastapi but one API route flipped back.
        shutil.copy(MANIFEST, manifest)
        owners = {e.key: "fastapi" for e in mf.load(manifest).entries}
        with mf.locked(manifest):
            mf.set_owners(manifest, {**owners, "GET /api/version": "flask"})
        assert client.portal is not None
        assert client.portal.call(partial(gateway.watcher.refresh, force=True))
        assert gateway.watcher.problems == []
        assert gateway.legacy.built
        response = client.get("/api/version")
        assert response.status_code == 200
        assert response.headers["x-served-by"] == "flask"
        # What no rule serves is Flask's again while a route is.
        assert client.get("/nowhere").headers["x-served-by"] == "flask"


def test_a_flip_back_without_flask_is_refused_and_the_last_table_stays(tmp_path, settings_env):
    manifest = tmp_path / "migration_status.yaml"
    settings = Settings()
    demo = create_figway(settings)
    gateway = create_gateway(
        settings, legacy_factory=no_flask, modern=demo.modern, manifest=manifest
    )
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        with mf.locked(manifest):
            mf.set_owners(manifest, {"GET /api/version": "flask"})
        assert client.portal is not None
        assert not client.portal.call(partial(gateway.watcher.refresh, force=True))
        assert gateway.table.owner("GET /api/version") == "fastapi"
        assert any("pip install 'figway[legacy]'" in p for p in gateway.watcher.problems)
        assert client.get("/api/version").headers["x-served-by"] == "fastapi"


def foreign_manifest(path: Path, items_owner: str) -> Path:
    path.write_text(
        "phases:\n  - {number: 1, name: first, milestone: ''}\nroutes:\n"
        '  - {route: "GET /hello/<int:n>", phase: 1, owner: fastapi, auth: public}\n'
        f'  - {{route: "GET /items", phase: 1, owner: {items_owner}, auth: public}}\n'
    )
    return path


def foreign_settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path / "var",
        database_url="mysql://root@127.0.0.1:9/none",  # nothing listens: never reached
        secret_key="foreign-secret-key-0123456789abcdef",
        redis_url=None,
        admin_token=ADMIN_TOKEN,
    )


def no_flask() -> object:
    """What building the legacy app does in an environment without Flask."""
    raise ModuleNotFoundError("No module named 'flask'", name="flask")


def test_a_gateway_that_needs_flask_from_the_start_names_the_legacy_extra(tmp_path):
    manifest = foreign_manifest(tmp_path / "routes.yaml", "flask")
    with pytest.raises(LegacyUnavailable, match=re.escape("pip install 'figway[legacy]'")):
        create_gateway(
            foreign_settings(tmp_path),
            legacy_factory=no_flask,
            modern=foreign_app.modern,
            manifest=manifest,
        )


def test_the_admin_api_refuses_a_flip_to_flask_it_cannot_serve(tmp_path):
    manifest = foreign_manifest(tmp_path / "routes.yaml", "fastapi")
    before = manifest.read_text()
    gateway = create_gateway(
        foreign_settings(tmp_path),
        legacy_factory=no_flask,
        modern=foreign_app.modern,
        manifest=manifest,
    )
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        for body in ({"route": "GET /items", "to": "flask"}, {"all": True}):
            path = "/_figway/flip" if "to" in body else "/_figway/rollback"
            refused = client.post(path, json=body, headers=auth)
            assert refused.status_code == 409, refused.text
            assert "pip install 'figway[legacy]'" in refused.json()["error"]
        assert client.get("/items").json()["side"] == "fastapi"
    assert manifest.read_text() == before
    assert not gateway.legacy.built


FOREIGN_MODULE = """
from pathlib import Path

from fastapi import FastAPI

from gateway.app import create_gateway
from shared.config import Settings

modern = FastAPI()


@modern.get("/items")
async def items() -> dict[str, str]:
    return {"side": "fastapi"}


def legacy():
    from flask import Flask

    return Flask(__name__)


def make():
    here = Path(__file__).parent
    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=here / "var",
        database_url="mysql://root@127.0.0.1:9/none",
        secret_key="foreign-secret-key-0123456789abcdef",
        redis_url=None,
    )
    return create_gateway(
        settings, legacy_factory=legacy, modern=modern, manifest=here / "routes.yaml"
    )
"""


def test_another_apps_gateway_from_a_factory_loads_no_flask_with_every_route_on_fastapi(
    tmp_path,
):
    """`figway serve --app MODULE:FACTORY` resolves the factory without asking Flask
    whether it is a Flask app, and its gateway builds no legacy side."""
    (tmp_path / "foreign_gw.py").write_text(FOREIGN_MODULE)
    (tmp_path / "routes.yaml").write_text(
        "phases:\n  - {number: 1, name: first, milestone: ''}\nroutes:\n"
        '  - {route: "GET /items", phase: 1, owner: fastapi, auth: public}\n'
    )
    script = textwrap.dedent(
        f"""
        import json, sys
        from starlette.testclient import TestClient
        from gateway.target import Target

        gateway = Target("foreign_gw:make").gateway
        with TestClient(gateway, base_url="http://127.0.0.1") as client:
            assert client.get("/items").json() == {{"side": "fastapi"}}
            missing = client.get("/nowhere")
            assert missing.status_code == 404, missing.status_code
            assert missing.headers["x-served-by"] == "fastapi"
        flask_side = {FLASK_SIDE!r}
        print("LOADED", json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in flask_side)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**base_env(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED ")][-1]
    assert json.loads(line.removeprefix("LOADED ")) == []
