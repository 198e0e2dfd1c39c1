"""Who may use the admin API (/_figway/): the bearer token FIGWAY_ADMIN_TOKEN, and whoever
the gateway's `admin_auth` hook admits; for someone else's app, with none of the demo's
tables: its flips and history in figway's own (gateway/state), on SQLite or MariaDB.
(The demo's own admins come through its hook: tests/gateway/test_gateway.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from gateway import manifest as mf
from gateway.app import create_gateway
from gateway.state.migrate import upgrade
from shared.config import Settings
from shared.errors import Forbidden
from tests import foreign_app
from tests.conftest import table_names
from tests.test_migrations import STATE_TABLES

TOKEN = "operator-token-0123456789abcdef"
MANIFEST = """\
phases:
  - {number: 1, name: first, milestone: "1.0"}
routes:
  - {route: "GET /hello/<int:n>", phase: 1, owner: flask, auth: public}
  - {route: "GET /items", phase: 1, owner: flask, auth: public}
  - {route: "POST /items", phase: 1, owner: flask, auth: public}
  - {route: "GET /about", phase: 1, owner: flask, auth: public}
"""


def _settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path / "var",
        # Nothing listens there: the admin API must not need the app's database to decide.
        database_url="mysql://root@127.0.0.1:9/none",
        secret_key="foreign-secret-key-0123456789abcdef",
        redis_url=None,
        **changes,
    )


def _client(tmp_path: Path, **kwargs: Any) -> TestClient:
    manifest = tmp_path / "routes.yaml"
    manifest.write_text(MANIFEST)
    settings = kwargs.pop("settings", None) or _settings(tmp_path)
    gateway = create_gateway(
        settings,
        legacy=foreign_app.legacy,
        modern=foreign_app.modern,
        manifest=manifest,
        **kwargs,
    )
    return TestClient(gateway, base_url="http://127.0.0.1")


def _status(client: TestClient, **headers: str) -> Any:
    return client.get("/_figway/status", headers=headers)


def test_the_admin_token_opens_the_admin_api_of_any_app(tmp_path):
    with _client(tmp_path, settings=_settings(tmp_path, admin_token=TOKEN)) as client:
        assert _status(client, Authorization=f"Bearer {TOKEN}").status_code == 200
        assert _status(client, Authorization=f"bearer {TOKEN}").status_code == 200
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN}):
            refused = _status(client, **headers)
            assert refused.status_code == 401, headers
            assert refused.json()["code"] == "AUTH_REQUIRED"
        assert client.get("/hello/2").json() == {"n": 2, "side": "flask"}


def test_without_a_token_or_a_hook_nobody_gets_in(tmp_path):
    with _client(tmp_path) as client:
        assert _status(client, Authorization="Bearer ").status_code == 401
        assert _status(client, Authorization=f"Bearer {TOKEN}").status_code == 401


def test_a_hook_decides_and_names_the_actor(tmp_path):
    async def operators(request: Request) -> str:
        name = request.headers.get("x-operator", "")
        if name not in {"alice", "bob"}:
            raise Forbidden("Not an operator")
        return name

    with _client(tmp_path, admin_auth=operators) as client:
        assert _status(client, **{"X-Operator": "alice"}).status_code == 200
        refused = _status(client, **{"X-Operator": "mallory"})
        assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"


def test_the_token_works_beside_a_hook(tmp_path):
    async def nobody(_request: Request) -> str:
        raise Forbidden()

    settings = _settings(tmp_path, admin_token=TOKEN)
    with _client(tmp_path, settings=settings, admin_auth=nobody) as client:
        assert _status(client, Authorization=f"Bearer {TOKEN}").status_code == 200
        assert _status(client).status_code == 403


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database for figway's state only: the app's own (database_url) answers nowhere."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("empty_mariadb")
    return url


def test_the_admin_api_of_any_app_flips_and_keeps_history_in_figways_tables(tmp_path, state_url):
    upgrade(state_url)
    settings = _settings(tmp_path, admin_token=TOKEN, state_database_url=state_url)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with _client(tmp_path, settings=settings) as client:
        status = client.get("/_figway/status", headers=auth).json()
        assert status["valid"] and status["phases"][0]["routes"] == 4
        flip = {"route": "GET /items", "to": "fastapi", "reason": "twin ready"}
        # No parity verdict recorded for another app's routes: only a forced move.
        assert client.post("/_figway/flip", json=flip, headers=auth).status_code == 409
        forced = client.post("/_figway/flip", json={**flip, "force": True}, headers=auth)
        assert forced.status_code == 200, forced.text
        assert client.get("/items").json()["side"] == "fastapi"
        back = client.post("/_figway/rollback", json={"all": True}, headers=auth)
        assert back.status_code == 200, back.text
        history = client.get("/_figway/history", headers=auth).json()["history"]
        assert [(h["action"], h["route"], h["to"], h["actor"], h["source"]) for h in history] == [
            ("rollback", "GET /items", "flask", "admin-token", "api"),
            ("flip", "GET /items", "fastapi", "admin-token", "api"),
        ]
        assert history[1]["reason"] == "twin ready"
        one = client.get("/_figway/history", params={"route": "get /about"}, headers=auth)
        assert one.json() == {"history": []}
    assert table_names(state_url) == STATE_TABLES


def test_without_figways_tables_the_admin_api_changes_nothing_and_says_what_to_run(
    tmp_path, state_url
):
    settings = _settings(tmp_path, admin_token=TOKEN, state_database_url=state_url)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with _client(tmp_path, settings=settings) as client:
        before = (tmp_path / "routes.yaml").read_bytes()
        flip = {"route": "GET /items", "to": "fastapi", "force": True}
        refused = client.post("/_figway/flip", json=flip, headers=auth)
        assert refused.status_code == 503, refused.text
        assert "not made" in refused.json()["error"]
        assert "run `figway db upgrade`" in refused.json()["error"]
        assert (tmp_path / "routes.yaml").read_bytes() == before
        assert client.get("/items").headers["x-served-by"] == "flask"
        history = client.get("/_figway/history", headers=auth)
        assert history.status_code == 503
        assert history.json()["code"] == "UNAVAILABLE"
        assert "run `figway db upgrade`" in history.json()["error"]
    assert {e.owner for e in mf.load(tmp_path / "routes.yaml").entries} == {"flask"}


def test_a_state_database_nobody_listens_on_is_a_503_and_no_change(tmp_path):
    nowhere = "mysql://root@127.0.0.1:9/figway"
    settings = _settings(
        tmp_path, admin_token=TOKEN, state_database_url=nowhere, db_connect_timeout_s=1
    )
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with _client(tmp_path, settings=settings) as client:
        before = (tmp_path / "routes.yaml").read_bytes()
        flip = {"route": "GET /items", "to": "fastapi", "force": True}
        refused = client.post("/_figway/flip", json=flip, headers=auth)
        assert refused.status_code == 503 and "not made" in refused.json()["error"]
        assert "figway db upgrade" not in refused.json()["error"]  # down, not missing
        assert (tmp_path / "routes.yaml").read_bytes() == before
        history = client.get("/_figway/history", headers=auth)
        assert history.status_code == 503
        assert "the state database is unavailable" in history.json()["error"]
