"""What `make run` promises, end to end on a real server: migrate, seed once, serve."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.embedded import PROVIDER_PORT_OFFSET, run_settings
from tests.polling import wait_for
from tests.servers import base_env, free_port, serving

ADMIN_PASSWORD = "demo-admin-password"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("make-run")
    port, provider = free_port(), free_port()
    env = base_env(
        tmp, FIGWAY_ADMIN_PASSWORD=ADMIN_PASSWORD, METADATA_BASE_URL=f"http://127.0.0.1:{provider}"
    )
    del env["SECRET_KEY"]  # the development key is generated and kept under var/
    with serving(["run", "--port", str(port)], env, port, timeout=120) as url:
        yield url, env, tmp, port


@pytest.fixture
def admin(server):
    url = server[0]
    with httpx.Client(base_url=url, timeout=30) as client:
        response = client.post(
            "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200, response.text
        yield client


def test_login_and_the_two_paging_shapes(admin):
    videos = admin.get("/api/videos", params={"limit": 2, "offset": 0}).json()
    assert set(videos) >= {"videos", "count", "total", "offset", "limit"}
    assert videos["count"] == 2 and videos["total"] == 7 and videos["limit"] == 2
    artists = admin.get("/api/artists", params={"page": 1, "per_page": 2}).json()
    assert set(artists) >= {"artists", "count", "total", "page", "per_page", "pages"}
    assert artists["total"] == 3 and artists["pages"] == 2


def test_no_cookie_gets_401_and_pages_redirect(server):
    url = server[0]
    response = httpx.get(url + "/api/videos")
    assert response.status_code == 401
    assert response.json() == {"error": response.json()["error"], "code": "AUTH_REQUIRED"}
    page = httpx.get(url + "/videos")
    assert page.status_code == 302 and page.headers["location"] == "/login?next=/videos"


def test_demo_media_streams_and_thumbnails(admin):
    videos = admin.get("/api/videos", params={"limit": 50}).json()["videos"]
    with_file = next(v for v in videos if v["has_file"])
    stream = admin.get(f"/api/videos/{with_file['id']}/stream", headers={"Range": "bytes=0-1023"})
    assert stream.status_code == 206 and stream.headers["content-type"] == "video/mp4"
    thumb = admin.get(f"/api/videos/{with_file['id']}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"


def test_the_local_provider_answers_and_downloads_work(admin):
    # The provider knows the seeded artists.
    search = admin.get("/api/metadata/search", params={"q": "Daft Punk"})
    assert search.status_code == 200 and search.json()["total"] == 1
    wanted = next(v for v in admin.get("/api/videos", params={"status": "wanted"}).json()["videos"])
    queued = admin.post(f"/api/videos/{wanted['id']}/download")
    assert queued.status_code == 202, queued.text
    download_id = queued.json()["download_id"]

    def finished() -> dict[str, Any] | None:
        state: dict[str, Any] = admin.get(f"/api/downloads/{download_id}").json()
        return None if state["status"] in ("queued", "running") else state

    state = wait_for(finished, timeout=60)
    assert state["status"] == "completed", state
    assert admin.get(f"/api/videos/{wanted['id']}").json()["has_file"] is True


def test_every_response_says_who_served_it(admin):
    assert admin.get("/api/version").headers["x-served-by"] in ("flask", "fastapi")


def test_a_second_start_does_not_seed_again(server):
    from tests.servers import figway

    _url, env, _tmp, _port = server
    done = figway("seed-demo", env=env)
    assert done.returncode == 0, done.stderr
    assert "library not empty" in done.stdout and "password" not in done.stdout
    assert (Path(env["FIGWAY_VAR_DIR"]) / "secret_key").exists()


def _port_with_a_free_provider_port() -> int:
    """A free port whose provider port (that port + 90) is free as well."""
    for _ in range(50):
        port = free_port()
        if port + PROVIDER_PORT_OFFSET > 65535:
            continue
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port + PROVIDER_PORT_OFFSET)) != 0:
                return port
    raise AssertionError("no free pair of ports")


def test_the_provider_port_follows_the_app_port(tmp_path):
    # METADATA_BASE_URL unset, as in `make run PORT=...` on a fresh clone.
    port = _port_with_a_free_provider_port()
    env = base_env(tmp_path, FIGWAY_ADMIN_PASSWORD=ADMIN_PASSWORD)
    with serving(["run", "--port", str(port)], env, port, timeout=120) as url:
        provider = f"http://127.0.0.1:{port + PROVIDER_PORT_OFFSET}"
        found = httpx.get(f"{provider}/api/v1/search/entities", params={"q": "Daft Punk"})
        assert found.status_code == 200 and found.json()["total_results"] == 1
        with httpx.Client(base_url=url, timeout=30) as client:
            login = {"username": "admin", "password": ADMIN_PASSWORD}
            assert client.post("/auth/login", json=login).status_code == 200
            # The provider's address is allowed to downloads by default under `figway run`.
            wanted = client.get("/api/videos", params={"status": "wanted"}).json()["videos"][0]
            queued = client.post(f"/api/videos/{wanted['id']}/download")
            assert queued.status_code == 202, queued.text
            download_id = queued.json()["download_id"]

            def finished() -> dict[str, Any] | None:
                state: dict[str, Any] = client.get(f"/api/downloads/{download_id}").json()
                return None if state["status"] in ("queued", "running") else state

            assert wait_for(finished, timeout=60)["status"] == "completed"


def settings_for_run(**fields: Any) -> Any:
    from shared.config import Settings

    return Settings(_env_file=None, secret_key="unused-secret-key-0123456789", **fields)


def test_run_settings_keep_a_configured_provider_and_allow_only_a_local_one():
    derived = run_settings(settings_for_run(), 9000)
    assert derived.metadata_base_url == "http://127.0.0.1:9090"
    assert derived.download_allow_hosts == ["127.0.0.1:9090"]
    remote = run_settings(settings_for_run(metadata_base_url="https://imvdb.example"), 9000)
    assert remote.metadata_base_url == "https://imvdb.example"
    assert remote.download_allow_hosts == []
    local = run_settings(
        settings_for_run(metadata_base_url="http://localhost:7000", download_allow_hosts=["a"]),
        9000,
    )
    assert local.download_allow_hosts == ["a", "localhost:7000"]
