"""A database that goes down or hangs, behind a real `figway serve`, on each side.

The server's database is a scratch database on the MariaDB server, reached through a
FaultProxy the test brings down or hangs; the shared server itself is never touched.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from flask import Response
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from fastapi_app import create_fastapi_app
from gateway.app import create_gateway
from legacy_flask import create_app
from shared.config import Settings
from shared.db.base import Base
from tests.faults import FaultProxy
from tests.mariadb_sites import OWNERS, SECRET, bearer, scratch_mariadb, site
from tests.polling import wait_for
from tests.test_contract import legacy_manifest

pytestmark = pytest.mark.mariadb


def _served_by(response: httpx.Response) -> str | None:
    side: str | None = response.headers.get("x-served-by")
    return side


@pytest.mark.parametrize("owner", OWNERS)
def test_a_database_down_answers_503_and_keeps_the_connection(tmp_path, owner):
    rounds = 15
    with site(tmp_path, owner) as s, httpx.Client(base_url=s.url, timeout=10) as client:
        assert client.get("/api/playlists", headers=s.auth).status_code == 200
        s.proxy.down()
        mark = s.log_mark()
        answers: Counter[tuple[str, int, str | None]] = Counter()
        ports: set[int] = set()
        resets = 0
        for _ in range(rounds):
            for path in ("/api/playlists", "/api/version"):
                try:
                    response = client.get(path, headers=s.auth)
                except httpx.TransportError:
                    resets += 1
                    continue
                assert _served_by(response) == owner, response.headers
                answers[(path, response.status_code, response.json().get("code"))] += 1
                stream = response.extensions["network_stream"]
                ports.add(stream.get_extra_info("client_addr")[1])
        logged = s.logged_since(mark)
    assert resets == 0
    assert answers == {
        ("/api/playlists", 503, "UNAVAILABLE"): rounds,
        ("/api/version", 200, None): rounds,
    }
    assert len(ports) == 1, f"the server closed the connection {len(ports) - 1} times"
    # One line per failed request, saying why (and one for the pooled connection the
    # outage cut); no traceback.
    assert len(logged) <= rounds + 1, "\n".join(logged[:40])
    assert not any("Traceback" in line for line in logged)


@pytest.mark.parametrize("owner", OWNERS)
def test_a_hung_database_answers_503_within_the_bounds(tmp_path, owner):
    bounds = {
        "FIGWAY_DB_CONNECT_TIMEOUT": "1",
        "FIGWAY_DB_READ_TIMEOUT": "1",
        "FIGWAY_DB_POOL_TIMEOUT": "1",
        "FIGWAY_DB_POOL_SIZE": "1",
    }
    with site(tmp_path, owner, **bounds) as s, httpx.Client(base_url=s.url, timeout=20) as client:
        assert client.get("/api/health").json()["status"] == "healthy"
        s.proxy.hang()
        mark = s.log_mark()

        def get(path: str) -> tuple[httpx.Response, float]:
            started = time.monotonic()
            response = httpx.get(s.url + path, headers=s.auth, timeout=20)
            return response, time.monotonic() - started

        # More requests at once than the pool holds: some wait for the pool, not the server.
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(get, ["/api/playlists"] * 4 + ["/api/health"]))
        for response, took in results:
            assert response.status_code == 503, (response.status_code, response.text)
            assert response.json()["code"] == "UNAVAILABLE"
            assert _served_by(response) == owner
            # A ping, a reconnect (its handshake) and a statement, a second each, at most.
            assert took < 5, took
        health, _ = results[-1]
        assert health.json() == {
            "status": "unhealthy",
            "database": "disconnected",
            "version": health.json()["version"],
            "error": "Database unavailable",
            "code": "UNAVAILABLE",
        }
        logged = s.logged_since(mark)
        # A line per request, and one per pooled connection the hang cut: no traceback.
        assert len(logged) <= 2 * len(results), "\n".join(logged[:40])
        assert not any("Traceback" in line for line in logged), "\n".join(logged[:60])
        s.proxy.resume()
        wait_for(lambda: client.get("/api/health").status_code == 200, timeout=10)
        assert client.get("/api/playlists", headers=s.auth).status_code == 200


def test_a_connection_lost_before_the_flask_teardown_keeps_the_answer(tmp_path, caplog):
    """The connection dies after the handler answered, before Flask's teardown rolls back."""
    with scratch_mariadb() as direct:
        server = make_url(direct)
        schema = create_engine(server.set(drivername="mysql+pymysql"))
        Base.metadata.create_all(schema)
        schema.dispose()
        auth = bearer(direct, "someone")
        with FaultProxy(server.host or "127.0.0.1", server.port or 3306) as proxy:
            settings = Settings(
                _env_file=None,
                env="test",
                var_dir=tmp_path / "var",
                database_url=server.set(port=proxy.port).render_as_string(hide_password=False),
                secret_key=SECRET,
                manifest=legacy_manifest(tmp_path / "migration_status.yaml"),
            )
            legacy = create_app(settings)

            @legacy.after_request
            def _cut(response: Response) -> Response:
                proxy.down()
                return response

            gateway = create_gateway(settings, legacy=legacy, modern=create_fastapi_app(settings))
            with TestClient(gateway, raise_server_exceptions=False) as client:
                response = client.get("/api/playlists", headers=auth)
            legacy.extensions["figway"].close()
    assert response.status_code == 200, response.text
    assert response.json() == {"playlists": []}
    assert response.headers["x-served-by"] == "flask"
    lost = [r for r in caplog.records if "connection lost" in r.getMessage()]
    assert len(lost) == 1 and lost[0].exc_info is None
