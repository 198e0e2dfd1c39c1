"""Real servers, real concurrency: wrong passwords sent at once each count toward the
account's lock and the address's throttle, on both login routes, with flask and then
fastapi owning them, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, insert, select

from gateway import manifest as mf
from shared.auth.passwords import hash_password
from shared.clock import utcnow
from shared.db.engine import sync_url
from shared.db.models import User
from shared.db.scratch import scratch_database
from tests.conftest import MARIADB_SERVER_URL, PASSWORD, service_missing
from tests.servers import Server, base_env, figway, free_port, serving
from tests.test_contract import legacy_manifest

LOGIN_ROUTES = {"POST /auth/login": "/auth/login", "POST /api/auth/token": "/api/auth/token"}
ALLOWANCE = 5  # failures per address per window
# Hashes that take tens of milliseconds: the requests of a burst overlap while verifying,
# between reading the account and counting the failure (the window a lost update needs).
SLOW_N = 2**14


@dataclass
class Target:
    url: Server
    owner: str
    engine: Engine
    log: Path

    def add_user(self) -> str:
        name = f"u{uuid.uuid4().hex[:12]}"
        with self.engine.begin() as conn:
            conn.execute(
                insert(User).values(
                    username=name,
                    role="admin",
                    password_hash=hash_password(PASSWORD, n=SLOW_N),
                    preferences={},
                    failed_login_count=0,
                    created_at=utcnow(),
                )
            )
        return name

    def account(self, name: str) -> tuple[int, bool]:
        """Its failure count, and whether it is locked now."""
        with self.engine.connect() as conn:
            count, until = conn.execute(
                select(User.failed_login_count, User.locked_until).where(User.username == name)
            ).one()
        return count, until is not None and until > utcnow()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]
)
def database(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('login-db') / 'figway.db'}"
        return
    if not MARIADB_SERVER_URL:
        service_missing("MariaDB (FIGWAY_TEST_DATABASE_URL)")
    with scratch_database(MARIADB_SERVER_URL, "figway_login") as url:
        yield url


@pytest.fixture(scope="module", params=["flask", "fastapi"])
def target(request: pytest.FixtureRequest, database: str, tmp_path_factory) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp(f"login-{request.param}")
    manifest = legacy_manifest(tmp / "migration_status.yaml")
    with mf.locked(manifest):
        mf.set_owners(manifest, dict.fromkeys(LOGIN_ROUTES, request.param))
    env = base_env(
        tmp,
        FIGWAY_MANIFEST=str(manifest),
        DATABASE_URL=database,
        FIGWAY_LOGIN_THROTTLE_FAILURES=str(ALLOWANCE),
    )
    done = figway("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    engine = create_engine(sync_url(database))
    port = free_port()
    try:
        with serving(["serve", "--port", str(port)], env, port) as url:
            yield Target(url, request.param, engine, tmp / "var" / "figway.log")
    finally:
        engine.dispose()


def burst(target: Target, path: str, logins: list[tuple[str, str, str]]) -> list[httpx.Response]:
    """Send every (source address, username, password) login at once, each from its own
    loopback address (all of 127.0.0.0/8 reaches the server)."""

    async def one(address: str, username: str, password: str) -> httpx.Response:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(transport=transport, timeout=60) as client:
            return await client.post(
                target.url + path, json={"username": username, "password": password}
            )

    async def run() -> list[httpx.Response]:
        return await asyncio.gather(*(one(*login) for login in logins))

    responses = asyncio.run(run())
    assert {r.headers["x-served-by"] for r in responses} == {target.owner}
    return responses


# Loopback source addresses, each handed out once per test run: the throttle counts per
# address in a database the tests of a module share, so no two bursts may share one.
_UNUSED_ADDRESSES = (
    f"127.{a}.{b}.{c}" for a in range(10, 250) for b in range(250) for c in range(1, 251)
)


def _addresses(count: int) -> list[str]:
    return list(itertools.islice(_UNUSED_ADDRESSES, count))


@pytest.mark.parametrize("route", LOGIN_ROUTES)
def test_wrong_passwords_sent_at_once_each_count(target: Target, route: str) -> None:
    name = target.add_user()
    logins = [(address, name, "wrong") for address in _addresses(4)]
    responses = burst(target, LOGIN_ROUTES[route], logins)
    assert [r.status_code for r in responses] == [401] * 4
    assert target.account(name) == (4, False)


@pytest.mark.parametrize("route", LOGIN_ROUTES)
def test_a_burst_locks_once_and_the_right_password_then_finds_the_lock(
    target: Target, route: str
) -> None:
    name = target.add_user()
    logins = [(address, name, "wrong") for address in _addresses(40)]
    statuses = Counter(r.status_code for r in burst(target, LOGIN_ROUTES[route], logins))
    # Five failures counted (the fifth locks); every other found the account locked.
    assert statuses == {401: 5, 423: 35}, statuses
    assert target.account(name) == (0, True)
    right = burst(target, LOGIN_ROUTES[route], [(_addresses(1)[0], name, PASSWORD)])
    assert right[0].status_code == 423
    locks = [line for line in target.log.read_text().splitlines() if f"'{name}' locked" in line]
    assert len(locks) == 1, locks


@pytest.mark.parametrize("route", LOGIN_ROUTES)
def test_one_address_sending_at_once_gets_its_allowance_and_no_more(
    target: Target, route: str
) -> None:
    names = [target.add_user() for _ in range(12)]
    (address,) = _addresses(1)
    responses = burst(target, LOGIN_ROUTES[route], [(address, n, "wrong") for n in names])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {401: ALLOWANCE, 429: 12 - ALLOWANCE}, statuses
    # Only the allowed failures reached an account.
    assert sum(target.account(n)[0] for n in names) == ALLOWANCE


def test_control_characters_in_next_through_a_real_server(target: Target) -> None:
    """CR/LF in `next` once made Flask answer 500 and uvicorn drop the connection: over a
    real socket each answer is whole, with a clean Location."""
    name = target.add_user()
    hostile = "/videos\r\nSet-Cookie: evil=1\t"
    with httpx.Client(base_url=target.url, timeout=60) as client:
        right = client.post(
            "/auth/login", data={"username": name, "password": PASSWORD, "next": hostile}
        )
        assert right.headers["x-served-by"] == target.owner
        assert (right.status_code, right.headers["location"]) == (
            302,
            "/videosSet-Cookie:%20evil=1",
        )
        assert "evil" not in right.headers.get("set-cookie", "")
        page = client.get("/login", params={"next": hostile})
        assert page.status_code == 200 and 'name="next" value="/videosSet-Cookie:%20evil=1"' in (
            page.text
        )
        wrong = client.post(
            "/auth/login", data={"username": name, "password": "wrong", "next": hostile}
        )
        assert (wrong.status_code, wrong.headers["location"]) == (
            303,
            f"/login?next=%2FvideosSet-Cookie%3A%2520evil%3D1&error=AUTH_REQUIRED&username={name}",
        )
