"""One client fixture for the whole suite: the Flask app alone, or (BLOG_THROUGH_GATEWAY=1)
figway's gateway over both sides, routing by the manifest (BLOG_MANIFEST, default the
shipped routes.yaml): the same tests must pass whoever serves each route."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from blog import store
from blog.legacy import create_app
from ruamel.yaml import YAML
from starlette.testclient import TestClient

THROUGH_GATEWAY = os.environ.get("BLOG_THROUGH_GATEWAY") == "1"
MANIFEST = Path(os.environ.get("BLOG_MANIFEST", Path(__file__).parents[1] / "routes.yaml"))
PASSWORDS = {"ann": "ann-password", "bob": "bob-password"}
BASE_URL = "http://testserver"


@pytest.fixture(scope="session")
def users() -> dict[str, str]:
    return {name: store.hash_password(pw) for name, pw in PASSWORDS.items()}


@pytest.fixture
def client(tmp_path: Path, users: dict[str, str]) -> Iterator[httpx2.Client]:
    store.create(tmp_path / "blog.db", users)
    if THROUGH_GATEWAY:
        from blog.gateway import make_gateway

        gateway = make_gateway(tmp_path, MANIFEST)
        with TestClient(gateway, base_url=BASE_URL, follow_redirects=False) as through:
            yield through
        return
    app = create_app({"DATABASE": str(tmp_path / "blog.db"), "TESTING": True})
    transport = httpx2.WSGITransport(app=app)
    with httpx2.Client(transport=transport, base_url=BASE_URL, follow_redirects=False) as alone:
        yield alone


Login = Callable[[httpx2.Client, str], httpx2.Response]


@pytest.fixture
def login() -> Login:
    """Log `name` in through the login form, as a browser does."""

    def log_in(client: httpx2.Client, name: str) -> httpx2.Response:
        return client.post("/login", data={"username": name, "password": PASSWORDS[name]})

    return log_in


@pytest.fixture
def owners() -> dict[str, str]:
    """Route -> the side the manifest names (only through the gateway)."""
    if not THROUGH_GATEWAY:
        pytest.skip("only through the gateway")
    data = YAML(typ="safe").load(MANIFEST.read_text())
    return {r["route"]: r["owner"] for r in data["routes"]}
