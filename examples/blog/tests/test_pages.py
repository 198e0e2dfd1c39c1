from __future__ import annotations

from typing import TYPE_CHECKING

import httpx2

if TYPE_CHECKING:
    from conftest import Login


def test_login_redirects_home_with_a_welcome_shown_once(
    client: httpx2.Client, login: Login
) -> None:
    reply = login(client, "ann")
    assert reply.status_code == 302
    assert reply.headers["location"] == "/"
    home = client.get("/")
    assert "Welcome back, ann" in home.text
    assert "Welcome back" not in client.get("/").text  # a flash is shown once


def test_wrong_password(client: httpx2.Client) -> None:
    reply = client.post("/login", data={"username": "ann", "password": "nope"})
    assert reply.status_code == 401
    assert "Wrong username or password" in reply.text
    assert client.get("/api/me").status_code == 401


def test_posts_on_the_home_page(client: httpx2.Client, login: Login) -> None:
    assert "No posts yet." in client.get("/").text
    login(client, "bob")
    client.post("/api/posts", json={"title": "Bob's news", "body": "hello"})
    page = client.get("/").text
    assert "Bob&#39;s news" in page
    assert "by bob" in page
