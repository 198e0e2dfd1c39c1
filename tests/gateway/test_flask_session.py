"""A foreign Flask app behind the gateway: its session, read on the FastAPI side through
the public dependency, with no key passed by hand."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from flask import Flask, flash, request, session
from starlette.testclient import TestClient

from gateway.app import Gateway, create_gateway
from gateway.flask_session import FlaskSessionDep, SlidingFlaskSession
from shared.auth.session_cookie import SessionCookieCodec
from shared.config import Settings

MANIFEST = """\
phases:
  - {number: 1, name: one, milestone: "1"}
routes:
  - {route: "POST /login", phase: 1, owner: flask, auth: public}
  - {route: "POST /logout", phase: 1, owner: flask, auth: public}
  - {route: "GET /whoami", phase: 1, owner: flask, auth: public}
  - {route: "GET /static/<path:filename>", phase: 1, owner: flask, auth: public}
"""
SHOP_KEY = "the-shop's-own-secret-0123456789"


def shop_app(**config: Any) -> Flask:
    app = Flask("shop")
    app.config.update(
        {
            "SECRET_KEY": SHOP_KEY,
            "SESSION_COOKIE_NAME": "shop_session",
            "PERMANENT_SESSION_LIFETIME": timedelta(hours=2),
            "SESSION_COOKIE_SAMESITE": "Lax",
            **config,
        }
    )

    @app.post("/login")
    def login() -> dict[str, bool]:
        session.clear()
        session.permanent = request.args.get("remember", "1") == "1"
        session["user_id"] = 42
        session["roles"] = ("buyer", "seller")
        flash("Welcome back")
        flash("Your cart expires soon", "warning")
        return {"ok": True}

    @app.post("/logout")
    def logout() -> dict[str, bool]:
        session.clear()
        return {"ok": True}

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        return {"user_id": session.get("user_id")}

    return app


def api_app(*, sliding: bool = False) -> FastAPI:
    api = FastAPI()
    if sliding:
        api.add_middleware(SlidingFlaskSession)

    @api.get("/api/whoami")
    def whoami(flask_session: FlaskSessionDep) -> dict[str, Any]:
        return {
            "user_id": flask_session.get("user_id"),
            "roles": list(flask_session.get("roles", ())),
            "permanent": flask_session.permanent,
            "flashes": flask_session.flashes(with_categories=True),
            "warnings": flask_session.flashes(category_filter=("warning",)),
        }

    return api


def shop_gateway(tmp_path: Path, legacy: Flask, modern: FastAPI) -> Gateway:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    # figway's own settings carry another key and cookie name: the Flask app's must win.
    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path,
        secret_key="figway-settings-key-0123456789",
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        log_file=tmp_path / "figway.log",
    )
    return create_gateway(settings, legacy=legacy, modern=modern, manifest=manifest)


@pytest.fixture
def gateway(tmp_path: Path) -> Gateway:
    return shop_gateway(tmp_path, shop_app(), api_app())


@pytest.fixture
def client(gateway: Gateway) -> Any:
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        yield client


def test_a_flask_login_is_seen_by_fastapi(client: TestClient):
    anonymous = client.get("/api/whoami")
    assert anonymous.headers["x-served-by"] == "fastapi"
    assert anonymous.json()["user_id"] is None

    login = client.post("/login")
    assert login.headers["x-served-by"] == "flask"
    assert "shop_session" in client.cookies

    seen = client.get("/api/whoami").json()
    assert seen == {
        "user_id": 42,
        "roles": ["buyer", "seller"],
        "permanent": True,
        "flashes": [["message", "Welcome back"], ["warning", "Your cart expires soon"]],
        "warnings": ["Your cart expires soon"],
    }
    # Read-only: the flashes are still there for the Flask side.
    assert client.get("/api/whoami").json()["flashes"] == seen["flashes"]

    client.post("/logout")
    assert client.get("/api/whoami").json()["user_id"] is None


def test_the_codec_is_the_flask_apps(gateway: Gateway, client: TestClient):
    codec = gateway.flask_session
    assert codec is not None
    assert (codec.name, codec.max_age) == ("shop_session", 2 * 3600)

    client.post("/login")
    data = codec.loads(client.cookies["shop_session"])
    assert data["_flashes"] == [("message", "Welcome back"), ("warning", "Your cart expires soon")]
    assert data["roles"] == ("buyer", "seller")

    # A cookie the codec writes is Flask's: the Flask side reads it back.
    client.cookies.clear()
    client.cookies.set("shop_session", codec.dumps({"user_id": 7}))
    assert client.get("/whoami").json() == {"user_id": 7}


def test_a_cookie_signed_with_figways_settings_key_is_nobody(client: TestClient, tmp_path: Path):
    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path,
        secret_key="figway-settings-key-0123456789",
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
    )
    forged = SessionCookieCodec(settings).dumps({"user_id": 1})
    client.cookies.set("shop_session", forged)
    assert client.get("/api/whoami").json()["user_id"] is None
    assert client.get("/whoami").json() == {"user_id": None}


def test_no_flask_app_no_session(tmp_path: Path):
    def wsgi(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"plain"]

    manifest = tmp_path / "m.yaml"
    manifest.write_text('phases:\n  - {number: 1, name: one, milestone: "1"}\nroutes: []\n')
    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path,
        secret_key="k" * 32,
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
    )
    gateway = create_gateway(settings, legacy=wsgi, modern=api_app(), manifest=manifest)
    assert gateway.flask_session is None
    with (
        TestClient(gateway, base_url="http://127.0.0.1") as client,
        pytest.raises(RuntimeError, match="no Flask session"),
    ):
        client.get("/api/whoami")


def test_outside_the_gateway_app_state_gives_the_codec():
    api = api_app()
    codec = SessionCookieCodec.from_flask_app(shop_app())
    api.state.flask_session_codec = codec
    with TestClient(api) as client:
        client.cookies.set("shop_session", codec.dumps({"user_id": 5}))
        assert client.get("/api/whoami").json()["user_id"] == 5


def test_the_demo_gateway_keeps_its_cookie(gw_settings: Settings):
    """The demo's Flask app carries the settings' key, name and lifetime: the gateway's
    codec (from that app) and the twins' (from the settings) are one."""
    from gateway.asgi import create_figway

    demo = create_figway(gw_settings)
    assert demo.flask_session is not None
    assert demo.flask_session.name == gw_settings.session_cookie_name == "session"
    assert demo.flask_session.max_age == gw_settings.session_lifetime_s == 14 * 24 * 3600
    ours = SessionCookieCodec(gw_settings)
    data = {"_permanent": True, "sid": "x"}
    assert (
        demo.flask_session.loads(ours.dumps(data))
        == data
        == ours.loads(demo.flask_session.dumps(data))
    )


def _refreshed(response: Any) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith("shop_session=")]


def test_fastapi_visits_slide_a_permanent_session(tmp_path: Path):
    gateway = shop_gateway(tmp_path, shop_app(), api_app(sliding=True))
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        assert _refreshed(client.get("/api/whoami")) == []  # no session, nothing to slide
        client.post("/login")
        (cookie,) = _refreshed(client.get("/api/whoami"))
        attributes = cookie.split("; ")[1:]
        assert attributes[0].startswith("Expires=")
        assert attributes[1:] == ["HttpOnly", "Path=/", "SameSite=Lax"]
        value = cookie.split(";")[0].split("=", 1)[1]
        assert gateway.flask_session is not None
        assert gateway.flask_session.loads(value)["user_id"] == 42

        client.post("/login?remember=0")  # a browser session: Flask does not refresh it
        assert _refreshed(client.get("/api/whoami")) == []


def test_no_sliding_when_the_flask_app_does_not_refresh(tmp_path: Path):
    legacy = shop_app(SESSION_REFRESH_EACH_REQUEST=False)
    gateway = shop_gateway(tmp_path, legacy, api_app(sliding=True))
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        client.post("/login")
        assert client.get("/api/whoami").json()["user_id"] == 42
        assert _refreshed(client.get("/api/whoami")) == []
