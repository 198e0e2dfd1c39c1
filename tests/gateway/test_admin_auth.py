"""Who may use the admin API (/_figway/): the bearer token FIGWAY_ADMIN_TOKEN, and whoever
the gateway's `admin_auth` hook admits; for someone else's app, with none of the demo's
tables. (The demo's own admins come through its hook: tests/gateway/test_gateway.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.testclient import TestClient

from gateway.app import create_gateway
from shared.config import Settings
from shared.errors import Forbidden
from tests import foreign_app

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
