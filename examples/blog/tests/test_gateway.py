"""Through the gateway, each route is served by the side the manifest names."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx2

if TYPE_CHECKING:
    from conftest import Login


def test_each_route_is_served_by_its_owner(
    client: httpx2.Client, login: Login, owners: dict[str, str]
) -> None:
    login(client, "ann")
    created = client.post("/api/posts", json={"title": "t"})
    assert created.status_code == 201
    assert created.headers["x-served-by"] == owners["POST /api/posts"]
    calls = {
        "GET /api/posts": ("GET", "/api/posts"),
        "GET /api/posts/<int:post_id>": ("GET", "/api/posts/1"),
        "GET /api/me": ("GET", "/api/me"),
        "POST /api/posts": ("POST", "/api/posts"),
        "DELETE /api/posts/<int:post_id>": ("DELETE", "/api/posts/1"),
        "GET /": ("GET", "/"),
    }
    for route, (method, path) in calls.items():
        served = client.request(method, path, json={"title": "x"} if method == "POST" else None)
        assert served.headers["x-served-by"] == owners[route], route
