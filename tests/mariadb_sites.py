"""`figway serve` on a scratch MariaDB database behind a FaultProxy, for the tests of
failures and concurrency (the machine's shared server is never stopped)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from shared.auth.passwords import hash_password
from shared.auth.tokens import issue_token
from shared.config import Settings
from shared.db.models import User
from shared.db.scratch import scratch_database
from tests.conftest import MARIADB_SERVER_URL, TEST_SCRYPT_N, service_missing
from tests.faults import FaultProxy
from tests.servers import Server, base_env, figway, free_port, serving
from tests.test_contract import MANIFEST, legacy_manifest

SECRET = "e2e-secret-key-0123456789abcdef"  # tests.servers.base_env's
OWNERS = ["flask", "fastapi"]  # who owns every route, in turn


@dataclass
class Site:
    url: Server
    proxy: FaultProxy
    database_url: str  # straight to the server, past the proxy, for arranging rows
    auth: dict[str, str]  # a bearer token of a user ("someone")
    log: Path
    app_log: Path

    def _lines(self) -> list[list[str]]:
        """The server's output and the app's log file (FIGWAY_LOG_FILE), line by line."""
        logs = (self.log, self.app_log)
        return [p.read_text(errors="replace").splitlines() if p.exists() else [] for p in logs]

    def log_mark(self) -> list[int]:
        return [len(lines) for lines in self._lines()]

    def logged_since(self, mark: list[int]) -> list[str]:
        return [line for lines, n in zip(self._lines(), mark, strict=True) for line in lines[n:]]


@contextmanager
def scratch_mariadb() -> Iterator[str]:
    if not MARIADB_SERVER_URL:
        service_missing("MariaDB (FIGWAY_TEST_DATABASE_URL)")
    with scratch_database(MARIADB_SERVER_URL, "figway_fault") as url:
        yield url


@contextmanager
def site(tmp_path: Path, owner: str, **env_extra: str) -> Iterator[Site]:
    """`figway serve` on a fresh database reached through a FaultProxy, every route owned
    by `owner`, with a user and a bearer token for them."""
    with scratch_mariadb() as direct:
        server = make_url(direct)
        with FaultProxy(server.host or "127.0.0.1", server.port or 3306) as proxy:
            proxied = server.set(port=proxy.port).render_as_string(hide_password=False)
            manifest = tmp_path / "migration_status.yaml"
            if owner == "flask":
                legacy_manifest(manifest)
            else:
                manifest.write_text(MANIFEST.read_text())
            env = base_env(
                tmp_path, DATABASE_URL=proxied, FIGWAY_MANIFEST=str(manifest), **env_extra
            )
            done = figway("db", "upgrade", env=env)
            assert done.returncode == 0, done.stderr
            auth = bearer(direct, "someone")
            port = free_port()
            with serving(["serve", "--port", str(port)], env, port) as url:
                log = tmp_path / f"server-{port}.log"
                yield Site(url, proxy, direct, auth, log, tmp_path / "var" / "figway.log")


def bearer(database_url: str, username: str) -> dict[str, str]:
    """Authorization headers of a new user `username`, made in the database itself."""
    engine = create_engine(make_url(database_url).set(drivername="mysql+pymysql"))
    with Session(engine) as session:
        user = User(
            username=username,
            role="user",
            password_hash=hash_password("pw", n=TEST_SCRYPT_N),
            preferences={},
        )
        session.add(user)
        session.commit()
        user_id = user.id
    engine.dispose()
    settings = Settings(_env_file=None, secret_key=SECRET)
    token = issue_token(settings, user_id, "user")["access_token"]
    return {"Authorization": f"Bearer {token}"}
