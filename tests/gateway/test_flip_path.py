"""One flip path for the CLI and the admin API: the manifest and its audit rows succeed or
fail together; a move to fastapi needs a recorded passing verdict (or force); the serving
process never imports the parity package."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from gateway import changes as ops
from gateway import manifest as mf
from gateway.app import Gateway
from gateway.asgi import create_figway
from gateway.state.tables import changes as figway_changes
from shared.auth.tokens import issue_token
from shared.config import Settings
from shared.db.engine import sync_url
from tests.conftest import _empty_tables
from tests.faults import FaultProxy
from tests.polling import wait_for
from tests.servers import base_env, figway, free_port
from tests.test_contract import legacy_manifest

VERSION = "GET /api/version"
LEGACY_VERSION = "legacy_flask.blueprints.health:version"
TWIN_VERSION = "fastapi_app.routers.health:version"


def audit_rows(url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(sync_url(url))
    try:
        with Session(engine) as session:
            t = figway_changes.c
            rows = session.execute(select(t.route, t.to_owner, t.source))
            return [(r.route, r.to_owner, r.source) for r in rows]
    finally:
        engine.dispose()


# --- the serving process ---------------------------------------------------------------


def test_the_serving_process_never_imports_the_parity_package(tmp_path):
    """Build the gateway as `figway serve` does, refuse an unverified flip and make a forced
    one through the admin API: the parity package is never imported (tests/test_import_graph.py
    does the same for another app's gateway)."""
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    env = base_env(tmp_path, FIGWAY_MANIFEST=str(manifest))
    assert figway("db", "upgrade", env=env).returncode == 0
    script = textwrap.dedent(
        """
        import sys
        from sqlalchemy.orm import Session
        from starlette.testclient import TestClient
        from gateway.asgi import create_figway
        from shared.auth.tokens import issue_token
        from shared.db.engine import create_sync_engine
        from shared.db.models import User

        gateway = create_figway()
        engine = create_sync_engine(gateway.settings)
        with Session(engine) as session:
            user = User(username="ops", role="admin", password_hash="x", preferences={})
            session.add(user)
            session.commit()
            token = issue_token(gateway.settings, user.id, "admin")["access_token"]
        engine.dispose()
        auth = {"Authorization": f"Bearer {token}"}
        with TestClient(gateway, base_url="http://127.0.0.1") as client:
            flip = {"route": "GET /api/version", "to": "fastapi"}
            assert client.post("/_figway/flip", json=flip, headers=auth).status_code == 409
            forced = client.post("/_figway/flip", json={**flip, "force": True}, headers=auth)
            assert forced.status_code == 200, forced.text
        print(sorted(m for m in sys.modules if "parity" in m.split(".")[:2]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, text=True, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_an_api_flip_leaves_the_apps_log_where_it_was(gateway, gw, login_gw, app, gw_settings):
    """Scenarios run in the server used to build Flask apps logging into a temporary
    folder, deleted after the run: the app's log then went nowhere and GET /api/admin/logs
    stood still."""
    import logging

    from shared.logs import LOGGER_NAME
    from tests.gateway.test_gateway import vouch

    def log_files() -> list[str]:
        handlers = logging.getLogger(LOGGER_NAME).handlers
        return [h.baseFilename for h in handlers if isinstance(h, logging.FileHandler)]

    assert log_files() == [str(gw_settings.log_path.resolve())]
    login_gw("admin")
    vouch(gateway, app, VERSION)
    flipped = gw.post("/_figway/flip", json={"route": VERSION, "to": "fastapi"})
    assert flipped.status_code == 200, flipped.text
    assert log_files() == [str(gw_settings.log_path.resolve())]


# --- verdicts -----------------------------------------------------------------------------


def write_verdict(
    manifest: Path, route: str, sources: list[Path] | None = None, **fields: object
) -> None:
    from parity.demo import sources as demo_sources

    path = ops.verdicts_path(manifest)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = ops.source_names(manifest, demo_sources() if sources is None else sources)
    verdict = {
        "passed": True,
        "legacy": LEGACY_VERSION,
        "twin": TWIN_VERSION,
        "sources": names,
        "fingerprint": ops.fingerprint(
            route,
            LEGACY_VERSION,
            TWIN_VERSION,
            scenarios=ops.scenarios_digest(manifest, names),
            load=True,
        ),
        "verified_at": "2026-01-01T00:00:00Z",
        **fields,
    }
    path.write_text(json.dumps({"routes": {route: verdict}}))


def test_a_verdict_counts_only_while_it_passed_and_its_code_is_unchanged(tmp_path):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    assert ops.unverified(manifest, [VERSION]) == {VERSION: f"{VERSION}: never verified"}
    write_verdict(manifest, VERSION)
    assert ops.verdicts_path(manifest) == tmp_path / ".figway" / "verdicts.json"
    assert ops.unverified(manifest, [VERSION, "GET /api/health"]) == {
        "GET /api/health": "GET /api/health: never verified"
    }
    write_verdict(manifest, VERSION, passed=False)
    assert "failed parity" in ops.unverified(manifest, [VERSION])[VERSION]
    # Another function than the one verified (the route moved to new code): stale.
    write_verdict(manifest, VERSION, twin="fastapi_app.routers.health:health_check")
    assert "changed since" in ops.unverified(manifest, [VERSION])[VERSION]
    write_verdict(manifest, VERSION, legacy="legacy_flask.blueprints.health:gone")
    assert "changed since" in ops.unverified(manifest, [VERSION])[VERSION]
    write_verdict(manifest, VERSION)
    assert ops.unverified(manifest, [VERSION]) == {}
    # The scenarios changed since: stale. Their files are named in the verdict, relative
    # to the manifest's directory, and read again (never imported) by the flip path.
    suite = tmp_path / "suite" / "scenarios.py"
    suite.parent.mkdir()
    suite.write_text("SCENARIOS = ()\n")
    write_verdict(manifest, VERSION, sources=[suite])
    recorded = json.loads(ops.verdicts_path(manifest).read_text())["routes"][VERSION]
    assert recorded["sources"] == ["suite/scenarios.py"]
    assert ops.unverified(manifest, [VERSION]) == {}
    suite.write_text("SCENARIOS = ('another',)\n")
    assert "changed since" in ops.unverified(manifest, [VERSION])[VERSION]
    suite.unlink()
    assert "changed since" in ops.unverified(manifest, [VERSION])[VERSION]
    # A verdict naming no files (an older figway's) vouches for nothing.
    write_verdict(manifest, VERSION, sources=[])
    assert "changed since" in ops.unverified(manifest, [VERSION])[VERSION]


def test_the_source_of_the_checked_code_is_in_the_fingerprint(tmp_path, monkeypatch):
    module = tmp_path / "flip_path_views.py"
    module.write_text("def view():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = ops.fingerprint(
        VERSION, "flip_path_views:view", TWIN_VERSION, scenarios="s", load=True
    )
    assert before is not None
    module.write_text("def view():\n    return 2\n")
    after = ops.fingerprint(VERSION, "flip_path_views:view", TWIN_VERSION, scenarios="s", load=True)
    assert after is not None and after != before
    # Not loaded, and not to be loaded (a server): no fingerprint, so no verdict holds.
    assert ops.code_digest("flip_path_views_absent:view") is None
    sys.modules.pop("flip_path_views", None)


def test_a_view_made_inside_a_factory_is_fingerprinted_by_its_factory(tmp_path, monkeypatch):
    """Flask's create_app pattern: the view is `create_app.<locals>.view`, found through
    the factory's source; a module-level lambda has no name to look its source up by."""
    module = tmp_path / "flip_path_factory.py"
    module.write_text("def create_app():\n    def view():\n        return 1\n    return view\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    name = "flip_path_factory:create_app.<locals>.view"
    before = ops.code_digest(name, load=True)
    assert before is not None
    module.write_text("def create_app():\n    def view():\n        return 2\n    return view\n")
    assert ops.code_digest(name, load=True) not in (None, before)
    assert ops.code_digest("flip_path_factory:<lambda>") is None
    sys.modules.pop("flip_path_factory", None)


def test_figway_verify_records_a_verdict_the_admin_api_accepts(
    gateway, gw, login_gw, monkeypatch, tmp_path
):
    from gateway.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIGWAY_MANIFEST", str(gateway.watcher.path))
    assert main(["verify", "--route", VERSION]) == 0
    recorded = json.loads(ops.verdicts_path(gateway.watcher.path).read_text())["routes"]
    assert set(recorded) == {VERSION}
    assert recorded[VERSION]["passed"] is True and recorded[VERSION]["scenarios"] > 0
    assert (recorded[VERSION]["legacy"], recorded[VERSION]["twin"]) == (
        LEGACY_VERSION,
        TWIN_VERSION,
    )
    login_gw("admin")
    flipped = gw.post("/_figway/flip", json={"route": VERSION, "to": "fastapi"})
    assert flipped.status_code == 200, flipped.text
    # A rollout names each route still without a verdict, and moves none.
    before = gateway.watcher.path.read_bytes()
    rollout = gw.post("/_figway/rollout", json={"phase": 1})
    assert rollout.status_code == 409
    assert "GET /api/health: never verified" in rollout.json()["error"]
    assert VERSION + ":" not in rollout.json()["error"]
    assert gateway.watcher.path.read_bytes() == before


# --- the manifest and its audit rows, together ----------------------------------------------


class CommitFails(Session):
    def commit(self) -> None:
        raise OperationalError("COMMIT", {}, Exception("Lost connection to server"))


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    made = create_engine(sync_url(settings.database_url))
    yield made
    made.dispose()


def change(
    manifest: Path, sessions: sessionmaker[Session], planner: ops.Planner
) -> list[ops.Change]:
    return ops.change(
        manifest,
        planner,
        twins=None,
        sessions=sessions,
        actor="test",
        source="cli",
        action="rollout",
        reason=None,
        force=True,
    )


def test_a_commit_that_fails_puts_the_manifest_back(settings, engine, tmp_path):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    before = manifest.read_bytes()
    with pytest.raises(ops.AuditFailed, match="undone"):
        change(manifest, sessionmaker(engine, class_=CommitFails), ops.plan_phase(1, "fastapi"))
    assert manifest.read_bytes() == before
    assert audit_rows(settings.database_url) == []


def test_a_database_nobody_listens_on_changes_nothing(tmp_path):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    before = manifest.read_bytes()
    nobody = create_engine(f"mysql+pymysql://root@127.0.0.1:{free_port()}/figway")
    with pytest.raises(ops.AuditFailed, match="not made"):
        change(manifest, sessionmaker(nobody), ops.plan_phase(1, "fastapi"))
    nobody.dispose()
    assert manifest.read_bytes() == before


def test_a_change_made_has_one_audit_row_per_route(settings, engine, tmp_path):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    done = change(manifest, sessionmaker(engine), ops.plan_phase(1, "fastapi"))
    assert len(done) > 1
    assert sorted(audit_rows(settings.database_url)) == sorted(
        (c.route, "fastapi", "cli") for c in done
    )
    owners = {e.key: e.owner for e in mf.load(manifest).entries}
    assert all(owners[c.route] == "fastapi" for c in done)


def test_state_tables_not_made_yet_change_nothing_and_name_the_command(tmp_path):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    before = manifest.read_bytes()
    bare = create_engine(f"sqlite:///{tmp_path / 'no-state-tables.db'}")
    with pytest.raises(ops.AuditFailed, match=r"not made.*run `figway db upgrade`"):
        change(manifest, sessionmaker(bare), ops.plan_phase(1, "fastapi"))
    bare.dispose()
    assert manifest.read_bytes() == before


# The app's database and figway's state are one unless FIGWAY_STATE_DATABASE_URL says
# otherwise: either way, the state database down means no change.
@pytest.mark.parametrize("down", ["DATABASE_URL", "FIGWAY_STATE_DATABASE_URL"])
def test_the_cli_reports_a_database_nobody_listens_on(tmp_path, down):
    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    before = manifest.read_bytes()
    env = base_env(
        tmp_path,
        FIGWAY_MANIFEST=str(manifest),
        FIGWAY_DB_CONNECT_TIMEOUT="1",
        **{down: f"mysql://root@127.0.0.1:{free_port()}/figway"},
    )
    done = figway("flip", VERSION, "--to", "fastapi", "--force", env=env)
    assert done.returncode == 1
    assert "cannot be recorded in the database, so it was not made" in done.stderr
    assert "Traceback" not in done.stderr
    assert manifest.read_bytes() == before


# --- a database that goes down mid-flip (MariaDB behind a FaultProxy) -------------------------
# (No resume() after down(): FaultProxy cannot listen again on its port then, see the report
# of this change; the success paths are tested above on both databases.)


@pytest.fixture
def proxied(mariadb_database: str, tmp_path: Path) -> Iterator[tuple[Settings, FaultProxy]]:
    direct = make_url(mariadb_database)
    schema = create_engine(sync_url(mariadb_database))
    _empty_tables(schema)
    schema.dispose()
    with FaultProxy(direct.host or "127.0.0.1", direct.port or 3306) as proxy:
        settings = Settings(
            _env_file=None,
            env="test",
            var_dir=tmp_path / "var",
            database_url=direct.set(port=proxy.port).render_as_string(hide_password=False),
            secret_key="test-secret-key-0123456789",
            log_file=tmp_path / "var" / "figway.log",
            manifest=legacy_manifest(tmp_path / "migration_status.yaml"),
            manifest_poll_s=0.05,
            db_connect_timeout_s=1,
            db_read_timeout_s=1,
        )
        yield settings, proxy


def admin_token(settings: Settings, database_url: str) -> dict[str, str]:
    from shared.db.models import User

    engine = create_engine(sync_url(database_url))
    with Session(engine) as session:
        user = User(username="ops", role="admin", password_hash="x", preferences={})
        session.add(user)
        session.commit()
        user_id = user.id
    engine.dispose()
    return {"Authorization": f"Bearer {issue_token(settings, user_id, 'admin')['access_token']}"}


def down_after_writing(
    monkeypatch: pytest.MonkeyPatch, proxy: FaultProxy, gateway: Gateway | None = None
) -> None:
    """The database goes away between the manifest's write and the audit's commit; with a
    `gateway`, once its watcher serves the written file (its answer must still come from a
    gateway serving the file put back)."""
    real = mf.set_owners

    def set_owners(*args: object, **kwargs: object) -> mf.Manifest:
        written = real(*args, **kwargs)  # type: ignore[arg-type]
        if gateway is not None:
            wait_for(lambda: gateway.table.owners()[VERSION] == "fastapi")
        proxy.down()
        return written

    monkeypatch.setattr(mf, "set_owners", set_owners)


def down_before_staging(
    monkeypatch: pytest.MonkeyPatch, proxy: FaultProxy, _gateway: Gateway | None = None
) -> None:
    real = ops.record

    def record(*args: object, **kwargs: object) -> None:
        proxy.down()
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ops, "record", record)


@pytest.mark.mariadb
@pytest.mark.parametrize("when", [down_before_staging, down_after_writing])
def test_the_admin_api_answers_503_and_changes_nothing_when_the_database_goes(
    proxied, mariadb_database, monkeypatch, when
):
    settings, proxy = proxied
    auth = admin_token(settings, mariadb_database)
    before = settings.manifest.read_bytes()
    gateway = create_figway(settings)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        assert client.get("/_figway/status", headers=auth).status_code == 200
        when(monkeypatch, proxy, gateway)
        flip = {"route": VERSION, "to": "fastapi", "force": True}
        failed = client.post("/_figway/flip", json=flip, headers=auth)
        assert failed.status_code == 503, failed.text
        assert set(failed.json()) == {"error", "code"}
        assert failed.json()["code"] == "UNAVAILABLE"
        assert settings.manifest.read_bytes() == before
        assert client.get("/api/version").headers["x-served-by"] == "flask"
        assert audit_rows(mariadb_database) == []


def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, manifest: Path) -> None:
    monkeypatch.setenv("FIGWAY_MANIFEST", str(manifest))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", "test-secret-key-0123456789")
    monkeypatch.setenv("FIGWAY_VAR_DIR", str(settings.var_dir))


@pytest.mark.mariadb
@pytest.mark.parametrize(
    ("when", "said"),
    [
        (down_before_staging, "cannot be recorded in the database, so it was not made"),
        (down_after_writing, "the database failed to record the change, so it was undone"),
    ],
)
def test_the_cli_exits_1_and_changes_nothing_when_the_database_goes(
    proxied, mariadb_database, monkeypatch, capsys, when, said
):
    from gateway.cli import main

    settings, proxy = proxied
    cli_env(monkeypatch, settings, settings.manifest)
    before = settings.manifest.read_bytes()
    when(monkeypatch, proxy)
    assert main(["rollout", "--phase", "1", "--force", "--by", "test"]) == 1
    assert said in capsys.readouterr().err
    assert settings.manifest.read_bytes() == before
    assert audit_rows(mariadb_database) == []


def test_a_cli_rollout_has_one_audit_row_per_route_moved(settings, monkeypatch, tmp_path, capsys):
    from gateway.cli import main

    manifest = legacy_manifest(tmp_path / "migration_status.yaml")
    cli_env(monkeypatch, settings, manifest)
    assert main(["rollout", "--phase", "1", "--force", "--by", "test"]) == 0
    out = capsys.readouterr().out.splitlines()
    moved = [line.rsplit(": ", 1)[0] for line in out if line.endswith("flask -> fastapi")]
    assert len(moved) == len(mf.load(manifest).in_phase(1)) > 1
    assert sorted(audit_rows(settings.database_url)) == sorted((r, "fastapi", "cli") for r in moved)
