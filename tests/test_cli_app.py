"""`figway --app MODULE:ATTR`: the CLI over someone else's app (tests/foreign_app.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway import manifest as mf
from gateway.changes import Change, ChangeRefused
from gateway.cli import main
from gateway.routes import flask_routes
from parity.harness import Harness
from parity.vet import require_parity
from tests import foreign_app
from tests.conftest import table_names
from tests.test_migrations import STATE_TABLES

GATEWAY = "tests.foreign_app:make_gateway"
FLASK = "tests.foreign_app:legacy"
ROOT = Path(__file__).resolve().parents[1]
KEYS = ["GET /about", "GET /hello/<int:n>", "GET /items", "POST /items"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(foreign_app.DIR_VAR, str(tmp_path))
    monkeypatch.delenv("FIGWAY_APP", raising=False)
    return tmp_path


@pytest.fixture
def manifest(workdir: Path) -> Path:
    path = workdir / "routes.yaml"
    assert main(["init", "--app", FLASK, "--out", str(path)]) == 0
    return path


@pytest.fixture
def audited(manifest: Path) -> Path:
    """The manifest, and figway's state tables in the database its settings name."""
    assert main(["--app", GATEWAY, "db", "upgrade"]) == 0
    return manifest


def owners(path: Path) -> dict[str, str]:
    return {e.key: e.owner for e in mf.load(path).entries}


UPGRADE_FOREIGN = f"figway db upgrade --app {GATEWAY}"


def test_init_writes_a_manifest_that_loads_and_fits_the_flask_app(workdir, capsys):
    path = workdir / "sub" / "routes.yaml"
    assert main(["init", "--app", FLASK, "--out", str(path)]) == 0
    assert "4 route(s)" in capsys.readouterr().out
    loaded = mf.load(path)
    assert sorted(e.key for e in loaded.entries) == KEYS
    assert {(e.owner, e.phase, e.auth) for e in loaded.entries} == {("flask", 1, "public")}
    legacy = [r.key for r in flask_routes(foreign_app.legacy)]
    assert mf.check_routes(loaded, legacy, None) == []
    text = path.read_text()
    assert "#   owner: flask | fastapi" in text and "#   auth:" in text

    path.write_text("# mine\n")
    assert main(["init", "--app", FLASK, "--out", str(path)]) == 1
    assert "exists; --force" in capsys.readouterr().err
    assert path.read_text() == "# mine\n"
    assert main(["init", "--app", FLASK, "--out", str(path), "--force"]) == 0
    assert len(mf.load(path).entries) == 4


def test_init_takes_the_gateway_or_its_factory_too(manifest, capsys):
    other = manifest.with_name("again.yaml")
    assert main(["--app", GATEWAY, "init", "--out", str(other)]) == 0
    assert other.read_text() == manifest.read_text()


def test_status_checks_the_apps_own_manifest_and_lists_routes(manifest, capsys):
    assert main(["--app", GATEWAY, "status", "--routes"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"manifest: {manifest} of {GATEWAY} (valid)"
    assert any(line.startswith("total") and " 4 " in line for line in out)
    listed = {line.split("  ")[0].strip(): line.split() for line in out if line[:4] in KEYS_HEADS}
    assert sorted(listed) == KEYS
    assert all(cols[-3:-1] == ["flask", "public"] for cols in listed.values())


KEYS_HEADS = {"GET ", "POST"}


def test_status_names_a_route_the_flask_app_does_not_have(manifest, capsys):
    manifest.write_text(manifest.read_text().replace('"GET /about"', '"GET /gone"'))
    # Building the gateway checks the manifest: refused, and said why.
    assert main(["--app", GATEWAY, "status"]) == 1
    err = capsys.readouterr().err
    assert "GET /gone: the legacy app has no such route" in err
    assert "GET /about: legacy route missing from the manifest" in err


def test_flip_and_rollback_follow_the_app(audited, capsys):
    # No verdict, and no scenarios to run instead: refused by name, the option named.
    assert main(["--app", GATEWAY, "flip", "GET /items", "--to", "fastapi"]) == 1
    err = capsys.readouterr().err
    assert "GET /items: never verified" in err and "--scenarios MODULE:ATTR" in err
    assert owners(audited)["GET /items"] == "flask"

    assert main(["--app", GATEWAY, "flip", "GET /items", "--to", "fastapi", "--force"]) == 0
    assert "GET /items: flask -> fastapi" in capsys.readouterr().out
    assert owners(audited)["GET /items"] == "fastapi"
    with TestClient(foreign_app.make_gateway()) as client:
        served = client.get("/items")
        assert served.headers["x-served-by"] == "fastapi" and served.json()["side"] == "fastapi"
        assert client.get("/about").headers["x-served-by"] == "flask"

    assert main(["--app", GATEWAY, "flip", "GET /about", "--to", "fastapi", "--force"]) == 1
    assert "no FastAPI twin for: GET /about" in capsys.readouterr().err

    # A phase moves whole or not at all: two of its routes have no twin.
    assert main(["--app", GATEWAY, "rollout", "--phase", "1", "--force"]) == 1
    assert "no FastAPI twin for: GET /about, POST /items" in capsys.readouterr().err

    assert main(["--app", GATEWAY, "flip", "get /hello/<int:n>", "--to", "fastapi", "--force"]) == 0
    assert main(["--app", GATEWAY, "rollback", "GET /items", "--reason", "not yet"]) == 0
    assert owners(audited) == {k: "fastapi" if k == "GET /hello/<int:n>" else "flask" for k in KEYS}
    assert main(["--app", GATEWAY, "rollback", "--all", "--by", "ops"]) == 0
    assert set(owners(audited).values()) == {"flask"}
    capsys.readouterr()

    assert main(["--app", GATEWAY, "history"]) == 0
    history = capsys.readouterr().out.splitlines()
    assert len(history) == 4
    assert "flip" in history[0] and "GET /items: flask -> fastapi" in history[0]
    assert "rollback" in history[2] and "(not yet)" in history[2]
    assert " ops " in history[3] and "GET /hello/<int:n>: fastapi -> flask" in history[3]


def test_db_commands_make_figways_own_tables_for_another_app(manifest, workdir, capsys):
    """--app: figway's state only, in the database the app's settings name (here its
    SQLite file); none of the demo's tables, and a clear word before they exist."""
    url = foreign_app.settings().state_url
    before = manifest.read_bytes()
    assert main(["--app", GATEWAY, "history"]) == 1
    assert f"run `{UPGRADE_FOREIGN}`" in capsys.readouterr().err
    assert main(["--app", GATEWAY, "flip", "GET /items", "--to", "fastapi", "--force"]) == 1
    err = capsys.readouterr().err
    assert "cannot be recorded in the database, so it was not made" in err
    assert f"run `{UPGRADE_FOREIGN}`" in err
    assert manifest.read_bytes() == before

    assert main(["--app", GATEWAY, "db", "current"]) == 0
    assert capsys.readouterr().out == "figway state: empty (head: figway_0003)\n"
    assert main(["--app", GATEWAY, "db", "upgrade"]) == 0
    assert capsys.readouterr().out == "figway state: database at head\n"
    assert table_names(url) == STATE_TABLES
    assert main(["--app", GATEWAY, "db", "current"]) == 0
    assert capsys.readouterr().out == "figway state: figway_0003 (head: figway_0003)\n"
    assert main(["--app", GATEWAY, "history"]) == 0
    assert capsys.readouterr().out == "no ownership changes recorded\n"
    assert main(["--app", GATEWAY, "db", "downgrade"]) == 0
    assert table_names(url) == {"figway_alembic_version"}
    # The demo's revisions are not another app's.
    assert main(["--app", GATEWAY, "db", "upgrade", "0003"]) == 2
    assert "figway db upgrade: figway state: Can't locate revision" in capsys.readouterr().err


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def state_elsewhere(
    request: pytest.FixtureRequest, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """FIGWAY_STATE_DATABASE_URL naming a database of its own (SQLite, MariaDB)."""
    url = (
        f"sqlite:///{workdir / 'state' / 'figway-state.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("empty_mariadb")
    )
    monkeypatch.setenv("FIGWAY_STATE_DATABASE_URL", url)
    return url


def test_figways_state_can_live_in_a_database_of_its_own(state_elsewhere, manifest, capsys):
    app_database = foreign_app.settings().database_url
    assert foreign_app.settings().state_url == state_elsewhere
    assert main(["--app", GATEWAY, "db", "upgrade"]) == 0
    assert main(["--app", GATEWAY, "flip", "GET /items", "--to", "fastapi", "--force"]) == 0
    assert main(["--app", GATEWAY, "rollback", "--all", "--reason", "later"]) == 0
    capsys.readouterr()
    assert main(["--app", GATEWAY, "history", "--route", "get /items"]) == 0
    history = capsys.readouterr().out.splitlines()
    assert len(history) == 2 and "(later)" in history[1]
    assert table_names(state_elsewhere) == STATE_TABLES
    assert table_names(app_database) == set()  # the app's own database: untouched


def test_demo_db_commands_run_figways_history_then_the_demos(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'var' / 'figway.db'}"
    monkeypatch.delenv("FIGWAY_APP", raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FIGWAY_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SECRET_KEY", "cli-secret-key-0123456789abcdef")
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "figway state: database at head",
        "demo app: database at head",
    ]
    assert {"users", "videos", "figway_changes"} <= table_names(url)
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "figway state: figway_0003 (head: figway_0003)",
        "demo app: 0004_media_paths (head: 0004_media_paths)",
    ]
    # A revision of one history moves that one only.
    assert main(["db", "downgrade", "0003"]) == 0
    assert capsys.readouterr().out == "demo app: database at 0003\n"
    assert main(["db", "downgrade", "figway_0001"]) == 0
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "figway state: figway_0001 (head: figway_0003)",
        "demo app: 0003_login_throttle (head: 0004_media_paths)",
    ]
    assert main(["db", "downgrade"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "demo app: database at base",
        "figway state: database at base",
    ]
    assert table_names(url) == {"alembic_version", "figway_alembic_version"}


def test_figway_app_env_var_names_the_app(manifest, monkeypatch, capsys):
    monkeypatch.setenv("FIGWAY_APP", GATEWAY)
    assert main(["routes"]) == 0
    assert capsys.readouterr().out.split("\n")[:-1] == KEYS
    assert main(["routes", "--json"]) == 0
    assert '"endpoint": "add_item"' in capsys.readouterr().out
    # --app wins over the variable.
    assert main(["--app", FLASK, "routes"]) == 0
    assert capsys.readouterr().out.split("\n")[:-1] == KEYS


def test_verify_says_there_are_no_scenarios_for_another_app(manifest, capsys):
    assert main(["--app", GATEWAY, "verify"]) == 2
    err = capsys.readouterr().err
    assert f"--app {GATEWAY} has no parity scenarios" in err
    assert "--scenarios MODULE:ATTR" in err and "parity/README.md" in err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.foreign_app", "expected MODULE:ATTR"),
        ("tests.foreign_app:nothing", "has no 'nothing'"),
        ("tests.no_such_module:app", "no module named 'tests.no_such_module'"),
        ("tests.foreign_app:DIR_VAR", "str is not a gateway"),
        (FLASK, "is a Flask app; this command needs the gateway"),
    ],
)
def test_a_wrong_app_is_named_and_refused(manifest, capsys, spec, message):
    assert main(["status", "--app", spec]) == 2
    assert message in capsys.readouterr().err


def test_demo_commands_refuse_another_app(manifest, capsys):
    assert main(["--app", GATEWAY, "seed-demo"]) == 2
    assert "a command of the demo app" in capsys.readouterr().err
    assert main(["users", "unlock", "admin", "--app", GATEWAY]) == 2
    assert "the demo app's accounts" in capsys.readouterr().err


def test_parity_progress_one_line_per_route():
    lines: list[str] = []
    require_parity([Change("GET /api/version", 1, "flask", "fastapi")], progress=lines.append)
    assert len(lines) == 1 and lines[0].startswith("[1/1] GET /api/version: ")
    assert "MISMATCHED" not in lines[0]
    # No scenarios at all: refused at once, nothing run, nothing reported.
    empty = Harness((), lambda scenarios, on_outcome: [], (), where="nowhere")
    with pytest.raises(ChangeRefused, match="GET /api/version: no parity scenarios"):
        require_parity(
            [Change("GET /api/version", 1, "flask", "fastapi")], empty, progress=lines.append
        )
    assert len(lines) == 1


def test_demo_flip_reports_parity_progress_and_status_stays_the_demos(
    tmp_path, monkeypatch, capsys
):
    from tests.test_contract import legacy_manifest

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FIGWAY_APP", raising=False)
    path = legacy_manifest(tmp_path / "migration_status.yaml")
    for name, value in {
        "FIGWAY_MANIFEST": str(path),
        "FIGWAY_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'figway.db'}",
        "SECRET_KEY": "cli-secret-key-0123456789abcdef",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["db", "upgrade"]) == 0
    assert main(["flip", "GET /api/version", "--to", "fastapi", "--by", "t"]) == 0
    done = capsys.readouterr()
    assert "GET /api/version: flask -> fastapi" in done.out
    progress = [line.strip() for line in done.err.splitlines() if line.strip().startswith("[")]
    assert len(progress) == 1 and progress[0].startswith("[1/1] GET /api/version: ")
    assert main(["status", "--check"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"manifest: {path} of the demo app (valid)"
    # Without --check the demo's apps are not built: the line says so.
    assert main(["status"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"manifest: {path} of the demo app (not checked against the apps: `figway status --check`)"
    )


def test_help_imports_neither_app():
    probe = (
        "import sys\n"
        "from gateway.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ['flask', 'fastapi', 'legacy_flask', 'fastapi_app']\n"
        "print('LOADED', [m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "--app MODULE:ATTR" in done.stdout
    assert "LOADED []" in done.stdout


def test_a_missing_manifest_points_at_init(workdir, capsys):
    assert main(["--app", GATEWAY, "status"]) == 1
    err = capsys.readouterr().err
    assert "routes.yaml: cannot read" in err and "figway init --app" in err


def test_the_gateway_object_itself_and_a_plain_wsgi_legacy_side(manifest, monkeypatch, capsys):
    from gateway.app import create_gateway

    monkeypatch.setattr(foreign_app, "built", foreign_app.make_gateway(), raising=False)
    assert main(["--app", "tests.foreign_app:built", "routes"]) == 0
    assert capsys.readouterr().out.split("\n")[:-1] == KEYS

    def plain(environ: object, start_response: object) -> list[bytes]:
        raise AssertionError("not called")

    other = create_gateway(
        foreign_app.settings(), legacy=plain, modern=foreign_app.modern, manifest=manifest
    )
    monkeypatch.setattr(foreign_app, "plain", other, raising=False)
    assert main(["--app", "tests.foreign_app:plain", "routes"]) == 1
    assert "is not a Flask app" in capsys.readouterr().err
    # Nothing to check the legacy routes against: only the twins are checked.
    assert main(["--app", "tests.foreign_app:plain", "status"]) == 0
