"""README's "Migrate your own app" runs as written, on the example blog (examples/blog/):
figway pip-installed into a new virtual environment from a copy of this checkout, then
init, db upgrade, status, the blog's own suite before and after the flips, verify, flip,
rollout, rollback and history, each a command of the README's block. Then the admin API of
the served blog with the admin token, and a login made by Flask used on a FastAPI route.

The new environment sees this one's packages through a .pth file, so `pip install`
resolves figway's dependencies from what is installed (this machine has no network); what
it installs and runs is figway from the copy, not this checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest
from ruamel.yaml import YAML

from tests.servers import free_port, running

ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- the block below is run by tests/example/test_migrate_readme.py -->"
TOKEN = "example-admin-token-0123456789"


def readme_block() -> str:
    after = (ROOT / "README.md").read_text().split(MARK, 1)[1]
    found = re.match(r"\s*```sh\n(.*?)```", after, re.S)
    assert found is not None, "the marked block is gone from README.md"
    return found.group(1)


def copy_checkout(dest: Path) -> None:
    """The project's files as git knows them (tracked, and new ones not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without its virtual environment or figway's settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FIGWAY_", "BLOG_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"))
        and k not in {"VIRTUAL_ENV", "PYTHONPATH"}
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The README's block, run once in a new folder: (that folder, its output)."""
    work = tmp_path_factory.mktemp("walkthrough")
    copy_checkout(work / "figway")
    # The environment the block creates, made first so it can see this one's packages; the
    # block's own `python3 -m venv .venv` then keeps it.
    subprocess.run([shutil.which("python3") or "python3", "-m", "venv", work / ".venv"], check=True)
    (site,) = (work / ".venv" / "lib").glob("python*/site-packages")
    (site / "installed-here.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block()],
        cwd=work,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return work, output


def test_the_walkthrough_migrates_and_rolls_back(walked: tuple[Path, str]) -> None:
    work, output = walked
    blog = work / "blog"
    # figway came from the copy: the new environment's own install.
    where = subprocess.run(
        [work / ".venv/bin/python", "-c", "import gateway; print(gateway.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(work / ".venv")), where
    first = YAML(typ="safe").load((blog / "first-routes.yaml").read_text())
    assert len(first["routes"]) == 9
    assert {r["owner"] for r in first["routes"]} == {"flask"}
    routes = YAML(typ="safe").load((blog / "routes.yaml").read_text())["routes"]
    owners = {r["route"]: (r["phase"], r["owner"]) for r in routes}
    assert {o for p, o in owners.values() if p == 1} == {"fastapi"}  # rolled out
    assert {o for p, o in owners.values() if p in (2, 3)} == {"flask"}  # rolled back, pages
    # The suite passed three times (pytest -q prints one summary line per run).
    assert len(re.findall(r"^\d+ passed", output, re.M)) == 3, output
    assert "failed" not in output
    assert "GET /api/posts: flask -> fastapi" in output
    # The history names every change, from the CLI, with its reason.
    history = output.split("figway history", 1)[-1] if "figway history" in output else output
    assert re.search(r"cli\s+rollback\s+POST /api/posts: fastapi -> flask\s+\(practice\)", history)
    # figway's state is in tables of its own; none of the app's.
    with sqlite3.connect(blog / "instance" / "var" / "figway.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables and all(t.startswith("figway_") for t in tables), tables


def test_the_admin_api_and_one_login_for_both_sides(walked: tuple[Path, str]) -> None:
    work, _ = walked
    blog = work / "blog"
    port = free_port()
    env = clean_env(
        FIGWAY_APP="blog.gateway:make_gateway",
        FIGWAY_ADMIN_TOKEN=TOKEN,
        FIGWAY_MANIFEST_POLL="0.1",
        PYTHONUNBUFFERED="1",
    )
    command = [str(work / ".venv/bin/figway"), "serve", "--port", str(port)]
    admin = {"Authorization": f"Bearer {TOKEN}"}
    subprocess.run(
        [
            work / ".venv/bin/python",
            "-m",
            "flask",
            "--app",
            "blog.legacy:create_app",
            "add-user",
            "ann",
            "--password",
            "ann-pw",
        ],
        cwd=blog,
        env=env,
        text=True,
        check=True,
        capture_output=True,
    )
    # Served from the blog's folder: its routes.yaml and instance/.
    log = work / "serve.log"
    with running(command, env, port, log, ready_path="/api/posts", cwd=blog) as url:
        assert httpx.get(f"{url}/_figway/status").status_code == 401
        status = httpx.get(f"{url}/_figway/status", headers=admin).json()
        assert status["valid"] is True
        flipped = httpx.post(
            f"{url}/_figway/flip",
            headers=admin,
            json={"route": "POST /api/posts", "to": "fastapi", "reason": "over the API"},
        )
        assert flipped.status_code == 200, flipped.text
        assert flipped.json()["changed"][0]["to_owner"] == "fastapi"
        history = httpx.get(f"{url}/_figway/history", headers=admin).json()["history"]
        assert (history[0]["source"], history[0]["actor"]) == ("api", "admin-token")

        with httpx.Client(base_url=url) as browser:
            # Logged in by the Flask side (its page and its session cookie) ...
            login = browser.post("/login", data={"username": "ann", "password": "ann-pw"})
            assert login.status_code == 302, login.text
            assert login.headers["x-served-by"] == "flask"
            # ... and so on the FastAPI side: the twin reads Flask's cookie.
            me = browser.get("/api/me")
            assert (me.headers["x-served-by"], me.status_code) == ("fastapi", 200)
            assert me.json()["username"] == "ann"
            created = browser.post("/api/posts", json={"title": "From FastAPI"})
            assert created.headers["x-served-by"] == "fastapi"
            assert created.status_code == 201, created.text
            assert created.json()["author"] == "ann"
        assert json.loads(httpx.get(f"{url}/api/posts").text)["posts"][0]["title"] == "From FastAPI"
