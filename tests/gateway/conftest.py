"""Gateway fixtures: our two apps behind a gateway reading a private copy of the manifest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway import changes as ops
from gateway.app import Gateway
from gateway.asgi import create_figway
from shared.config import Settings
from tests.conftest import MARIADB_SERVER_URL, service_missing
from tests.test_contract import legacy_manifest


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def server_url(request: pytest.FixtureRequest) -> str | None:
    """Where the parity harness makes its databases: SQLite files, or the MariaDB server."""
    if request.param == "sqlite":
        return None
    if not MARIADB_SERVER_URL:
        service_missing("MariaDB (FIGWAY_TEST_DATABASE_URL)")
    return MARIADB_SERVER_URL


@pytest.fixture
def manifest_path(tmp_path: Path) -> Path:
    return legacy_manifest(tmp_path / "migration_status.yaml")


@pytest.fixture
def gw_settings(settings: Settings, manifest_path: Path) -> Settings:
    return settings.model_copy(update={"manifest": manifest_path, "manifest_poll_s": 0.05})


@pytest.fixture
def gateway(gw_settings: Settings) -> Gateway:
    return create_figway(gw_settings)


@pytest.fixture
def gw(gateway: Gateway) -> Iterator[TestClient]:
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        yield client


def flip(gateway: Gateway, route: str, to: str) -> list[ops.Change]:
    return ops.apply(gateway.watcher.path, ops.plan_flip(route, to), twins=gateway.modern_keys)


@pytest.fixture
def login_gw(gw: TestClient, make_user: Callable[..., Any]) -> Callable[[str], Any]:
    def do_login(role: str) -> Any:
        user = make_user(role)
        response = gw.post(
            "/auth/login", json={"username": user.username, "password": "correct-horse-battery"}
        )
        assert response.status_code == 200, response.text
        return user

    return do_login
