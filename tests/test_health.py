"""Health, database reachability and version on the legacy app, up and down."""

from __future__ import annotations

import platform

import pytest
from sqlalchemy.engine import make_url

import shared
from tests.conftest import assert_error

# Nothing listens on port 1: connecting fails at once with "connection refused".
UNREACHABLE = "mysql://root@127.0.0.1:1/figway"


@pytest.fixture
def down_app(app_with):
    """The same app, configured for a database server that is not there."""
    return app_with(database_url=UNREACHABLE)


# -- GET /api/health --------------------------------------------------------------------


def test_health_is_public(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "healthy",
        "database": "connected",
        "version": shared.__version__,
    }


def test_health_with_the_database_down(down_app):
    response = down_app.test_client().get("/api/health")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unhealthy",
        "database": "disconnected",
        "version": shared.__version__,
        "error": "Database unavailable",
        "code": "UNAVAILABLE",
    }
    assert "127.0.0.1" not in response.get_data(as_text=True)


# -- GET /api/health/database -----------------------------------------------------------


def test_database_report(client, bearer, settings):
    response = client.get("/api/health/database", headers=bearer("manager"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "connected"
    assert body["dialect"] == make_url(settings.database_url).get_backend_name()
    assert isinstance(body["latency_ms"], float) and body["latency_ms"] >= 0
    assert set(body["pool"]) == {"size", "checked_out", "overflow", "checked_in"}
    assert all(v is None or isinstance(v, int) for v in body["pool"].values())
    # This request holds the one connection it measured with.
    assert body["pool"]["checked_out"] == 1


def test_database_report_needs_manager(client, bearer):
    assert_error(client.get("/api/health/database"), 401, "AUTH_REQUIRED")
    assert_error(client.get("/api/health/database", headers=bearer("user")), 403, "FORBIDDEN")


def test_database_report_with_the_database_down(down_app, bearer):
    other = down_app.test_client()
    # The token is valid (same SECRET_KEY); finding its user is what meets the dead database.
    assert_error(other.get("/api/health/database", headers=bearer("manager")), 503, "UNAVAILABLE")
    assert_error(other.get("/api/health/database"), 401, "AUTH_REQUIRED")


# -- GET /api/version -------------------------------------------------------------------


def test_version_is_public_and_framework_neutral(client):
    response = client.get("/api/version")
    assert response.status_code == 200
    assert response.get_json() == {
        "version": shared.__version__,
        "api": "legacy-v1",
        "python": platform.python_version(),
    }
    text = response.get_data(as_text=True).lower()
    assert "flask" not in text and "fastapi" not in text and "werkzeug" not in text


def test_version_needs_no_database(down_app):
    assert down_app.test_client().get("/api/version").status_code == 200


def test_health_routes_are_read_only(client):
    assert_error(client.post("/api/health"), 405, "METHOD_NOT_ALLOWED")
    assert_error(client.delete("/api/version"), 405, "METHOD_NOT_ALLOWED")
