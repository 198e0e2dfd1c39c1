"""The gateway's own front: trusted hosts for every request (its admin API included), and
the admin API under the same HTTP rules as the twins."""

from __future__ import annotations

import pytest
from httpx import Response
from starlette.testclient import TestClient


def _legacy_error(response: Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body.keys() == {"error", "code"} and body["code"] == code, body


@pytest.mark.parametrize(
    "path", ["/_figway/status/", "/_figway/status", "/static//x", "/api/version", "/docs"]
)
def test_an_untrusted_host_is_400_before_anything_answers(gw, path):
    response = gw.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    _legacy_error(response, 400, "BAD_REQUEST")
    assert "location" not in response.headers and "x-served-by" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_trusted_hosts_setting_is_the_list_served(gw_settings):
    from gateway.asgi import create_figway

    settings = gw_settings.model_copy(update={"trusted_hosts": [".figway.example"]})
    with TestClient(create_figway(settings), base_url="http://figway.example") as client:
        assert client.get("/api/version").status_code == 200
        assert (
            client.get("/api/version", headers={"Host": "a.figway.example:8000"}).status_code == 200
        )
        assert client.get("/api/version", headers={"Host": "localhost"}).status_code == 400


def test_the_admin_api_refuses_cross_site_writes_and_sets_nosniff(gw, login_gw):
    login_gw("admin")
    status = gw.get("/_figway/status")
    assert status.status_code == 200 and status.headers["x-content-type-options"] == "nosniff"
    flip = {"route": "GET /api/version", "to": "fastapi", "force": True}
    refused = gw.post("/_figway/flip", json=flip, headers={"Origin": "http://evil.example"})
    _legacy_error(refused, 403, "FORBIDDEN")
    assert gw.get("/_figway/status").json()["serving"]["GET /api/version"] == "flask"
