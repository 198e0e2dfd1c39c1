"""Every route of the manifest, at every role, answers at the auth level the manifest states.

Derived from migration_status.yaml, not from either app's own declarations (test_contract
checks those): each `route: METHOD PATH` entry is called as anonymous, readonly, user,
manager and admin, with the session cookie of a real login and again with a bearer token
from POST /api/auth/token, on both sides:

- the Flask side for every route, through the suite's `app` fixture (the legacy app alone;
  with FIGWAY_TEST_THROUGH_GATEWAY=1, the gateway in front of it with the twins on fastapi);
- the FastAPI side, called directly, for every route that has a FastAPI twin right now
  (found from the FastAPI app's routes, never listed here), with the cookies Flask's
  login made: the shared session is part of what is checked. It is the same in both modes
  of the suite, so the gateway run leaves it out.

Expected, per the legacy contract (../shared/legacy-api.md, legacy_flask/auth.py):
API routes give anonymous callers 401 and roles below the level 403, both exactly
{"error", "code"}; pages (the `pages` blueprint) send anonymous callers a 302 to
/login?next=<path> and give roles below the level a 403 page. The level and above, and
everyone on a `public` route, get neither. Path variables are filled with values that keep
the allowed call harmless (ids that do not exist, a key that is not set), bodies are `{}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from fastapi_app import create_fastapi_app
from gateway import manifest as mf
from gateway.app import modern_route_keys
from shared.auth.passwords import hash_password
from shared.auth.roles import has_role
from shared.config import Settings
from shared.db.models import ROLES, User
from shared.web.methods import flat_routes
from shared.web.pages import STATIC
from tests.conftest import PASSWORD, TEST_SCRYPT_N
from tests.modes import FLASK_FREE
from tests.test_contract import MANIFEST

if TYPE_CHECKING:
    from flask import Flask

# HTTP routes; the Socket.IO channel checks its level at connect (tests/test_realtime.py).
ENTRIES = {e.key: e for e in mf.load(MANIFEST).entries if e.method != mf.CHANNEL}
CALLERS: tuple[str | None, ...] = (None, *ROLES)  # None: anonymous
_FLASK_VAR = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
NO_SUCH_ID = "999999"  # allowed callers get 404: nothing is changed, nothing is streamed
WRITES = frozenset({"POST", "PUT", "PATCH"})
_serial = count(1)
# Without `q` these answer 400 before doing anything; with it the allowed call does its
# real work (the provider one fails to connect: 502/503, still neither 401 nor 403).
QUERIES = {
    "GET /api/metadata/search": "q=auth-coverage",
    "GET /api/videos/search": "q=auth-coverage",
}


def _some_static_file() -> str:
    found = sorted(p for p in STATIC.rglob("*") if p.is_file())
    assert found, f"no file under {STATIC}"
    return found[0].relative_to(STATIC).as_posix()


def _value(converter: str | None, name: str) -> str:
    if converter == "int":
        return NO_SUCH_ID
    if converter == "path" and name == "filename":
        return _some_static_file()
    if name == "key":
        return "auth-coverage-no-such-key"  # GET/DELETE: 404, PUT {}: 400
    if name == "size":
        return "small"
    raise AssertionError(f"no concrete value for <{converter}:{name}>: add one to _value")


def concrete_path(path: str) -> str:
    return _FLASK_VAR.sub(lambda m: _value(m["converter"], m["name"]), path)


def twin_keys(modern: FastAPI) -> set[str]:
    """The manifest keys that this FastAPI app serves itself (its twins), in Flask syntax."""
    served = {mf.twin_key(key) for key in modern_route_keys(modern.routes)}
    return {key for key in ENTRIES if mf.twin_key(key) in served}


# Which routes have a twin is read from the FastAPI app when the tests are collected (the
# set grows as routes move); test_fastapi_side_exercises_every_twin checks it again on the
# settings the tests run with.
TWINS = sorted(
    twin_keys(
        create_fastapi_app(
            Settings(
                _env_file=None,
                env="test",
                database_url="sqlite://",  # never connected: only the routes are read
                secret_key="route-discovery-only-0123456789",
                redis_url=None,
            )
        )
    ),
    key=list(ENTRIES).index,
)


# --- one request, whichever side answers it -----------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    location: str | None
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def show(self) -> str:
        return f"{self.status} {self.content_type} {self.location or ''} {self.body[:300]!r}"


class Side(Protocol):
    def request(
        self, method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None
    ) -> Reply: ...


class FlaskSide:
    """The suite's Flask app (the gateway in front of it with FIGWAY_TEST_THROUGH_GATEWAY=1)."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client(use_cookies=False)  # only the credentials a call names

    def request(
        self, method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None
    ) -> Reply:
        response = self.client.open(path, method=method, json=body, headers=headers)
        try:
            return Reply(
                response.status_code,
                response.headers.get("Content-Type", ""),
                response.headers.get("Location"),
                response.get_data(),
            )
        finally:
            response.close()


class FastAPISide:
    """The FastAPI app alone, on the same settings and database."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def request(
        self, method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None
    ) -> Reply:
        self.client.cookies.clear()  # nothing carried over from an earlier caller
        response = self.client.request(method, path, json=body, headers=headers)
        return Reply(
            response.status_code,
            response.headers.get("content-type", ""),
            response.headers.get("location"),
            response.content,
        )


# --- credentials: one login per role ------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    cookies: dict[str, dict[str, str]]  # role -> headers carrying its session cookie
    tokens: dict[str, dict[str, str]]  # role -> headers carrying its bearer token


def add_user(app: Flask, role: str) -> str:
    """A new user of `role` with the suite's password; returns its username."""
    username = f"coverage-{role}-{next(_serial)}"
    with app.extensions["figway"].sessions() as session:
        session.add(
            User(
                username=username,
                role=role,
                password_hash=hash_password(PASSWORD, n=TEST_SCRYPT_N),
                preferences={},
            )
        )
        session.commit()
    return username


def log_in_every_role(legacy: Flask, settings: Settings, token_from: Side) -> Credentials:
    """For a new user of each role: a session from POST /auth/login on `legacy` (Flask) and
    a token from POST /api/auth/token on `token_from`."""
    cookies, tokens = {}, {}
    for role in ROLES:
        creds = {"username": add_user(legacy, role), "password": PASSWORD}
        browser = legacy.test_client()
        response = browser.post("/auth/login", json=creds)
        assert response.status_code == 200, response.get_data(as_text=True)
        cookie = browser.get_cookie(settings.session_cookie_name)
        assert cookie is not None and cookie.value
        cookies[role] = {"Cookie": f"{settings.session_cookie_name}={cookie.value}"}

        issued = token_from.request("POST", "/api/auth/token", {}, creds)
        assert issued.status == 200, issued.show()
        body = issued.json()
        assert body["token_type"] == "bearer", body
        tokens[role] = {"Authorization": f"Bearer {body['access_token']}"}
    return Credentials(cookies, tokens)


# --- what each caller must get ------------------------------------------------------------


def is_page(app: Any) -> Callable[[str], bool]:
    """Whether a manifest route is a page: its view is in Flask's `pages` blueprint (in the
    Flask-free run, its twin in fastapi_app/routers/pages.py)."""
    if FLASK_FREE:
        pages = {
            mf.twin_key(key)
            for route in flat_routes(app.modern.routes)
            if getattr(getattr(route, "endpoint", None), "__module__", "")
            == "fastapi_app.routers.pages"
            for key in modern_route_keys([route])
        }
        return lambda key: mf.twin_key(key) in pages
    from gateway.routes import flask_routes

    endpoints = {route.key: route.endpoint for route in flask_routes(app)}
    return lambda key: endpoints[key].startswith("pages.")


def _redirects_to_login(reply: Reply) -> bool:
    return reply.status == 302 and urlsplit(reply.location or "").path == "/login"


def check(key: str, page: bool, caller: str | None, how: str, path: str, reply: Reply) -> None:
    level = ENTRIES[key].auth
    who = f"{key} as {caller or 'anonymous'} ({how}), level {level}: {reply.show()}"
    if level == "public" or (caller is not None and has_role(caller, level)):
        assert reply.status not in (401, 403), who
        assert not _redirects_to_login(reply), who
    elif page and caller is None:
        assert _redirects_to_login(reply), who
        assert parse_qs(urlsplit(reply.location or "").query).get("next") == [path], who
    elif page:
        assert reply.status == 403, who
        assert reply.content_type.startswith("text/html"), who
    else:
        status, code = (401, "AUTH_REQUIRED") if caller is None else (403, "FORBIDDEN")
        assert reply.status == status, who
        body = reply.json()
        assert isinstance(body, dict) and set(body) == {"error", "code"}, who
        assert body["code"] == code and isinstance(body["error"], str) and body["error"], who


def exercise(key: str, page: bool, side: Side, credentials: Credentials) -> int:
    """Call the route as every caller, by cookie then by token; returns the calls made.

    Each role's session is used once per route: POST /auth/logout revokes it, and no later
    call in the same test needs it (the bearer pass does not depend on the session).
    """
    method, _, rule = key.partition(" ")
    path = concrete_path(rule)
    if key in QUERIES:
        path += f"?{QUERIES[key]}"
    body: dict[str, object] | None = {} if method in WRITES else None
    calls = 0
    for how, headers in (("session cookie", credentials.cookies), ("bearer", credentials.tokens)):
        for caller in CALLERS:
            if caller is None and how == "bearer":
                continue  # anonymous has no token: the cookie pass covered it
            given = headers[caller] if caller is not None else {}
            check(key, page, caller, how, path, side.request(method, path, given, body))
            calls += 1
    return calls


# --- the tests ----------------------------------------------------------------------------

CALLS_PER_ROUTE = 1 + 2 * len(ROLES)  # anonymous, then each role by cookie and by token


@pytest.mark.parametrize("key", list(ENTRIES))
def test_flask_side_enforces_the_manifest_level(key, app, settings):
    side = FlaskSide(app)
    credentials = log_in_every_role(app, settings, token_from=side)
    assert exercise(key, is_page(app)(key), side, credentials) == CALLS_PER_ROUTE


# The FastAPI side below does not use the `app` fixture: it is the same with or without
# FIGWAY_TEST_THROUGH_GATEWAY, so that run leaves it out (tests/conftest.py) on purpose.


@pytest.fixture
def legacy_alone(settings: Settings) -> Iterator[Flask]:
    """The legacy Flask app on the test database, never behind the gateway: it logs in."""
    from legacy_flask import create_app

    application = create_app(settings)
    yield application
    application.extensions["figway"].close()


@pytest.fixture
def fastapi_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_fastapi_app(settings), follow_redirects=False) as client:
        yield client


@pytest.mark.parametrize("key", TWINS)
def test_fastapi_twin_enforces_the_manifest_level(key, legacy_alone, settings, fastapi_client):
    twins = twin_keys(fastapi_client.app)
    assert key in twins, f"{key} has no FastAPI twin any more"
    side = FastAPISide(fastapi_client)
    # Sessions come from Flask's login (the cookie is shared); tokens from the twin when it
    # has that route.
    issuer = side if "POST /api/auth/token" in twins else FlaskSide(legacy_alone)
    credentials = log_in_every_role(legacy_alone, settings, token_from=issuer)
    assert exercise(key, is_page(legacy_alone)(key), side, credentials) == CALLS_PER_ROUTE


def test_fastapi_side_exercises_every_twin(fastapi_client):
    """Every manifest route the FastAPI app serves is among the twins tested above."""
    twins = twin_keys(fastapi_client.app)
    assert twins, "no FastAPI twin found: the twin discovery is broken"
    assert twins <= set(TWINS), sorted(twins - set(TWINS))
